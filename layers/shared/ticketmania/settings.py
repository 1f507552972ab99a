"""Settings from the environment, validated once per container.

`get_settings()` is cached and called as each function's app module loads, so a
bad configuration fails the cold start with a clear message instead of the
first request.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_KEY_LENGTH = 32
# Signs tokens only in local mode when no key is given (sam local, say), so that
# every local function accepts every other's tokens. Refused outside local mode.
LOCAL_DEVELOPMENT_KEY = "local-development-only-key-never-used-outside-app-env-local"
PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "please-change-me"}


class ConfigurationError(RuntimeError):
    """The environment does not describe a runnable service."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    app_env: Literal["local", "test", "production"] = "production"
    database_url: str = ""
    redis_url: str = ""
    # Put before every Redis key, so deployments sharing one Redis never meet.
    redis_key_prefix: str = Field(
        default="", max_length=100, pattern=r"^[A-Za-z0-9._-]*$"
    )
    secret_key: SecretStr = SecretStr("")
    # Where the secret lives when it is not in SECRET_KEY: an SSM SecureString
    # parameter name or a Secrets Manager secret id (read through Powertools).
    secret_key_parameter: str = ""
    secret_key_secret_id: str = ""
    # Ed25519 keys that sign ticket codes (comma-separated: the first signs, all
    # verify), or the SSM SecureString parameter that holds them. Never the JWT
    # key; read only by the functions that issue or check tickets.
    ticket_signing_keys: SecretStr = SecretStr("")
    ticket_signing_keys_parameter: str = ""
    # Payments: "stripe" (STRIPE_SECRET_KEY, or the SSM SecureString parameter
    # that holds it), or "test" (no account, no network; refused in production).
    # Empty: stripe where a key is given, else test outside production.
    payment_provider: Literal["", "stripe", "test"] = ""
    stripe_secret_key: SecretStr = SecretStr("")
    stripe_secret_key_parameter: str = ""
    # The webhook's signing secrets (comma-separated while rotating: any verifies).
    stripe_webhook_secret: SecretStr = SecretStr("")
    stripe_webhook_secret_parameter: str = ""
    # Another Stripe API address (a local fake such as localstripe); empty: Stripe's.
    stripe_api_base: str = ""

    access_token_expire_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    events_cache_ttl: int = Field(default=5, ge=0, le=3600)
    max_seats_per_booking: int = Field(default=10, ge=1, le=1000)
    max_seats_per_user_per_event: int = Field(default=10, ge=1, le=100_000)
    # Holds: how long one lasts, how far an extension moves its end, and the
    # longest one may last from its creation; a waitlist offer's hold.
    hold_seconds: int = Field(default=900, ge=1, le=86_400)
    hold_extension_seconds: int = Field(default=300, ge=1, le=86_400)
    hold_max_seconds: int = Field(default=1800, ge=1, le=86_400)
    waitlist_offer_seconds: int = Field(default=1800, ge=1, le=7 * 86_400)

    db_pool_size: int = Field(default=0, ge=0, le=100)  # 0: 1 in Lambda, 10 locally
    # A request's limits: the database's defaults for the functions' role, which
    # the migration writes (db/session_limits.py), so they hold through a pooler.
    db_statement_timeout_ms: int = Field(default=5000, ge=100)
    db_lock_timeout_ms: int = Field(default=2000, ge=10)
    # Where set (the jobs, the migration), this process's transactions may run
    # statements this long, and its connections wait this long for an answer.
    db_long_statement_timeout_ms: int | None = Field(default=None, ge=100)
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    # A pooled connection idle this long is pinged before use (a thawed container's).
    db_idle_ping_seconds: float = Field(default=10.0, ge=0)
    redis_timeout_seconds: float = Field(default=0.1, gt=0, le=5)
    redis_breaker_seconds: float = Field(default=5.0, ge=0)

    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_seconds: int = Field(default=300, ge=1)
    # N/second, N/minute or N/hour: signups per client address, bookings per user.
    rate_limit_signup: str = "10/hour"
    rate_limit_booking: str = "30/minute"
    # Browser origins the local server allows (comma-separated); in AWS, API
    # Gateway answers CORS (template.yaml's CorsAllowOrigins).
    cors_allow_origins: str = ""

    # Where local runs keep their files: the embedded Postgres, the key, mail/, reports/.
    ticketmania_data_dir: Path = Path(".data")
    # `ticketmania serve` runs the scheduled jobs itself unless this is "off".
    ticketmania_jobs: Literal["on", "off"] = "on"
    # The SQS queue relay-outbox sends to; empty: straight to the notifier (local runs).
    notifications_queue_url: str = ""
    mail_from: str = "TicketMania <tickets@ticketmania.example>"
    # "file": each e-mail an .eml file in <data dir>/mail; "ses": Amazon SES.
    mail_backend: Literal["file", "ses"] = "file"
    # The S3 bucket sales-report writes to; empty: <data dir>/reports.
    reports_bucket: str = ""

    @property
    def is_lambda(self) -> bool:
        return "AWS_LAMBDA_FUNCTION_NAME" in os.environ

    @property
    def is_sam_local(self) -> bool:
        """Running under `sam local` (which sets AWS_SAM_LOCAL): in a container
        deleted after each invocation, and not to reach outside the machine."""
        return os.environ.get("AWS_SAM_LOCAL", "").lower() == "true"

    @property
    def pool_size(self) -> int:
        if self.db_pool_size:
            return self.db_pool_size
        # One request at a time per Lambda container: one connection is all it uses.
        return 1 if self.is_lambda else 10

    @field_validator("db_long_statement_timeout_ms", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("database_url")
    @classmethod
    def _is_a_postgres_url(cls, value: str) -> str:
        # Checked here, so a malformed URL is the one line every bad setting
        # is (never quoting it: it holds the password), not a driver's traceback.
        if not value:
            return value
        parts = urlsplit(value)
        scheme = parts.scheme.lower()
        if scheme != "postgres" and scheme.split("+")[0] != "postgresql":
            raise ValueError(
                "must be a PostgreSQL URL: postgresql://user:password@host:5432/database"
            )
        try:
            parts.port  # noqa: B018 - reading it is the check
        except ValueError:
            raise ValueError(
                "has a port that is not a number from 0 to 65535"
            ) from None
        return value

    @field_validator("rate_limit_signup", "rate_limit_booking")
    @classmethod
    def _is_a_rate(cls, value: str) -> str:
        from ticketmania.rate_limits import RateLimit

        return str(RateLimit.parse(value))

    @model_validator(mode="after")
    def _require_database_url_outside_local(self) -> Settings:
        if self.app_env != "local" and not self.database_url:
            raise ValueError(
                "DATABASE_URL must be set (e.g. postgresql://user:pass@host:5432/db)"
            )
        return self


def _resolve_secret_key(settings: Settings) -> Settings:
    """Fill SECRET_KEY from SSM or Secrets Manager when it is named, not given."""
    if settings.secret_key.get_secret_value():
        return settings
    value = ""
    if settings.secret_key_parameter:
        from aws_lambda_powertools.utilities import parameters

        value = str(
            parameters.get_parameter(settings.secret_key_parameter, decrypt=True)
        )
    elif settings.secret_key_secret_id:
        from aws_lambda_powertools.utilities import parameters

        value = str(parameters.get_secret(settings.secret_key_secret_id))
    return settings.model_copy(update={"secret_key": SecretStr(value)})


def check_secret_key(settings: Settings) -> None:
    if settings.app_env == "local":
        return
    keys = [key.strip() for key in settings.secret_key.get_secret_value().split(",")]
    if LOCAL_DEVELOPMENT_KEY in keys:
        raise ConfigurationError(
            "SECRET_KEY is the local development key: set a real one"
        )
    if any(
        len(key) < MIN_SECRET_KEY_LENGTH or key.lower() in PLACEHOLDER_SECRETS
        for key in keys
    ):
        raise ConfigurationError(
            f"SECRET_KEY must be set to a random value of at least {MIN_SECRET_KEY_LENGTH} "
            "characters (several, comma-separated, while rotating; or name it with "
            "SECRET_KEY_PARAMETER / SECRET_KEY_SECRET_ID); "
            'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )


def read_environment() -> Settings:
    """The settings as the environment gives them, before any secret is fetched.

    A bad value is a ConfigurationError naming the variable and what is wrong,
    in one line that never quotes the value (it may be a secret).
    """
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None


def load_settings() -> Settings:
    settings = read_environment()
    settings = _resolve_secret_key(settings)
    check_secret_key(settings)
    if settings.app_env == "local" and not settings.secret_key.get_secret_value():
        settings = settings.model_copy(
            update={"secret_key": SecretStr(LOCAL_DEVELOPMENT_KEY)}
        )
    return settings


@functools.cache
def get_settings() -> Settings:
    return load_settings()
