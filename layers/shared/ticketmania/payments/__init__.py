"""Taking money for orders: a provider interface (`provider.py`), Stripe's
adapter (`stripe_provider.py`), and a test provider for local runs with no
account (`test_provider.py`); `get_provider()` picks the configured one."""

from __future__ import annotations

import functools

from ticketmania.payments.provider import PaymentProvider
from ticketmania.settings import ConfigurationError, Settings, get_settings


def _secret(value: str, parameter: str) -> str:
    if value or not parameter:
        return value
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_parameter(parameter, decrypt=True))


def provider_for(settings: Settings) -> PaymentProvider:
    """The configured provider; its secrets read from SSM where named."""
    secret_key = _secret(
        settings.stripe_secret_key.get_secret_value(),
        settings.stripe_secret_key_parameter,
    )
    webhook_text = _secret(
        settings.stripe_webhook_secret.get_secret_value(),
        settings.stripe_webhook_secret_parameter,
    )
    webhook_secrets = [part.strip() for part in webhook_text.split(",") if part.strip()]
    choice = settings.payment_provider or ("stripe" if secret_key else "test")
    if choice == "stripe":
        if not secret_key:
            raise ConfigurationError("PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY")
        from ticketmania.payments.stripe_provider import StripeProvider

        return StripeProvider(
            secret_key=secret_key,
            webhook_secrets=webhook_secrets,
            api_base=settings.stripe_api_base,
        )
    if settings.app_env == "production":
        raise ConfigurationError(
            "the test payment provider takes no money: set STRIPE_SECRET_KEY "
            "(or STRIPE_SECRET_KEY_PARAMETER) in production"
        )
    from ticketmania.payments.test_provider import LOCAL_WEBHOOK_SECRET, TestProvider

    return TestProvider(webhook_secrets=webhook_secrets or [LOCAL_WEBHOOK_SECRET])


@functools.cache
def get_provider() -> PaymentProvider:
    return provider_for(get_settings())
