"""Request and response bodies of the auth routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
NewPassword = Annotated[str, Field(min_length=8, max_length=128)]


class SignupRequest(BaseModel):
    # Unknown fields ("role": "admin" among them) are dropped, never applied.
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"name": "Ada", "email": "ada@example.com", "password": "correct horse"}
            ]
        },
    )

    name: Name
    email: EmailStr = Field(max_length=320)
    password: NewPassword


class LoginRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "ada@example.com", "password": "correct horse"}]
        }
    )

    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=128)


class PasswordChangeRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"current_password": "correct horse", "new_password": "battery staple"}
            ]
        }
    )

    current_password: str = Field(min_length=1, max_length=128)
    new_password: NewPassword


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str
    role: Literal["user", "admin", "staff"]
    created_at: datetime


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")
    user: UserOut
