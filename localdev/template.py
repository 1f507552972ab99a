"""Reads template.yaml: which functions exist, their code and their HTTP routes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class _CloudFormationLoader(yaml.SafeLoader):
    """A YAML loader that reads !Ref, !Sub, !GetAtt... as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    assert isinstance(node, yaml.MappingNode)  # the only other kind of YAML node
    return loader.construct_mapping(node)


_CloudFormationLoader.add_multi_constructor("!", _any_tag)


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str

    @property
    def pattern(self) -> re.Pattern[str]:
        # API Gateway path parameters ({id}) match one segment.
        return re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", self.path) + "$")


@dataclass(frozen=True)
class Schedule:
    """An EventBridge schedule of a function, with the constant input it sends."""

    name: str
    expression: str
    input: str


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    code_uri: Path
    handler: str
    routes: tuple[HttpRoute, ...]
    schedules: tuple[Schedule, ...]
    # Environment variables as deployed: the function's own over the Globals'.
    environment: dict[str, Any]
    # Its layers' logical ids, in order: the Globals', then its own.
    layers: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]


@dataclass(frozen=True)
class CorsRules:
    """The HTTP API's CorsConfiguration, all but its origins (a stack parameter in
    AWS, CORS_ALLOW_ORIGINS locally)."""

    allow_headers: tuple[str, ...]
    allow_methods: tuple[str, ...]
    expose_headers: tuple[str, ...]
    max_age: int


def load_template(path: Path) -> dict[str, Any]:
    with path.open() as file:
        document = yaml.load(file, Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return document


def read_functions(path: Path) -> list[FunctionSpec]:
    """Every AWS::Serverless::Function of the template, with its HttpApi routes."""
    template = load_template(path)
    defaults = template.get("Globals", {}).get("Function", {})
    functions = []
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.get("Properties", {})
        routes = tuple(
            HttpRoute(
                method=event["Properties"]["Method"].upper(),
                path=event["Properties"]["Path"],
            )
            for event in properties.get("Events", {}).values()
            if event.get("Type") == "HttpApi"
        )
        schedules = tuple(
            Schedule(
                name=name,
                expression=event["Properties"]["Schedule"],
                input=event["Properties"].get("Input", "{}"),
            )
            for name, event in properties.get("Events", {}).items()
            if event.get("Type") == "Schedule"
        )
        functions.append(
            FunctionSpec(
                name=name,
                code_uri=path.parent
                / properties.get("CodeUri", defaults.get("CodeUri", ".")),
                handler=properties.get("Handler", defaults.get("Handler", "")),
                routes=routes,
                schedules=schedules,
                environment={
                    **defaults.get("Environment", {}).get("Variables", {}),
                    **properties.get("Environment", {}).get("Variables", {}),
                },
                layers=tuple(
                    str(layer)
                    for layer in [
                        *defaults.get("Layers", []),
                        *properties.get("Layers", []),
                    ]
                ),
            )
        )
    return functions


def read_cors(path: Path) -> CorsRules:
    """The CORS rules of the template's HTTP API."""
    for resource in load_template(path).get("Resources", {}).values():
        if resource.get("Type") != "AWS::Serverless::HttpApi":
            continue
        config = resource.get("Properties", {}).get("CorsConfiguration")
        if isinstance(config, list):  # !If [condition, when true, when false]
            config = config[1]
        if isinstance(config, dict):
            return CorsRules(
                allow_headers=tuple(config["AllowHeaders"]),
                allow_methods=tuple(config["AllowMethods"]),
                expose_headers=tuple(config["ExposeHeaders"]),
                max_age=int(config["MaxAge"]),
            )
    raise ValueError(f"{path} declares no HttpApi with a CorsConfiguration")
