"""A function's environment exactly as template.yaml gives it in AWS, resolved
against the test session's services: what a Lambda container of that function
runs with (one pooled connection, its Powertools names, its timeouts).

Parameters take their template defaults; the ones that name a place (the
database, Redis, the key's parameter, the queue, the bucket) are the tests'
own: the key is given directly, and the queue and the bucket are empty (no
AWS) unless a test passes their moto addresses.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

TEMPLATE = ROOT / "template.yaml"


class _Tag:
    def __init__(self, tag: str, value: Any) -> None:
        self.tag = tag
        self.value = value


class _TaggedLoader(yaml.SafeLoader):
    """Keeps !Ref, !Sub, !If... as _Tag objects, to be resolved."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> _Tag:
    if isinstance(node, yaml.ScalarNode):
        return _Tag(suffix, loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return _Tag(suffix, loader.construct_sequence(node, deep=True))
    assert isinstance(node, yaml.MappingNode)
    return _Tag(suffix, loader.construct_mapping(node, deep=True))


_TaggedLoader.add_multi_constructor("!", _tagged)


def _load(path: Path) -> dict[str, Any]:
    with path.open() as file:
        # A SafeLoader subclass: nothing but plain YAML and the tags is built.
        return yaml.load(file, Loader=_TaggedLoader)


def template_environment(
    function_name: str, places: dict[str, str], path: Path = TEMPLATE
) -> dict[str, str]:
    """The function's variables, Globals' and its own, resolved.

    `places` gives the values of the parameters and resources with no usable
    default (DatabaseUrl, RedisUrl, NotificationsQueue, ReportsBucket, ...);
    conditions are false (no tracing, no VPC)."""
    template = _load(path)
    defaults = {
        name: str(parameter["Default"])
        for name, parameter in template["Parameters"].items()
        if "Default" in parameter
    }
    values = {**defaults, **places}

    def resolve(value: Any) -> str:
        if isinstance(value, _Tag):
            if value.tag == "Ref":
                return values[value.value]
            if value.tag == "Sub":
                text = value.value
                for name, given in values.items():
                    text = text.replace("${" + name + "}", given)
                return str(text)
            if value.tag == "If":  # every condition is false here
                return resolve(value.value[2])
            raise ValueError(f"cannot resolve !{value.tag}")
        return str(value)

    globals_ = template["Globals"]["Function"]["Environment"]["Variables"]
    own = template["Resources"][function_name]["Properties"].get("Environment", {})
    variables = {**globals_, **own.get("Variables", {})}
    return {name: resolve(value) for name, value in variables.items()}


def container_environment(
    function_name: str,
    *,
    secret_key: str,
    ticket_key: str = "",
    data_dir: Path,
    database_url: str | None = None,
    queue_url: str = "",
    bucket: str = "",
) -> dict[str, str]:
    """What a container of `function_name` runs with, on this test session's
    services (the database at `database_url`: the tests give their pooler's):
    the template's environment, plus what Lambda itself sets."""
    environment = template_environment(
        function_name,
        {
            "DatabaseUrl": database_url or os.environ["DATABASE_URL"],
            "RedisUrl": os.environ["REDIS_URL"],
            "SecretKeyParameterName": "unused",
            "NotificationsQueue": queue_url,
            "ReportsBucket": bucket,
            "MailFrom": "TicketMania <tickets@ticketmania.example>",
            "AWS::StackName": "ticketmania-test",
            "TicketSigningKeysParameterName": "unused",
            "StripeSecretKeyParameterName": "unused",
            "StripeWebhookSecretParameterName": "unused",
        },
    )
    # The key itself instead of its SSM parameter (moto's SSM is for the tests of that).
    environment.pop("SECRET_KEY_PARAMETER")
    environment["SECRET_KEY"] = secret_key
    # Likewise the ticket key, for the functions that sign or check tickets.
    if environment.pop("TICKET_SIGNING_KEYS_PARAMETER", None) is not None:
        environment["TICKET_SIGNING_KEYS"] = ticket_key
    # Likewise Stripe's keys, and the address of the tests' fake Stripe.
    if environment.pop("STRIPE_SECRET_KEY_PARAMETER", None) is not None:
        environment.pop("STRIPE_WEBHOOK_SECRET_PARAMETER", None)
        for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE"):
            environment[name] = os.environ[name]
    environment["TICKETMANIA_DATA_DIR"] = str(data_dir)
    environment["AWS_LAMBDA_FUNCTION_NAME"] = function_name
    return environment
