import pytest

from ticketmania.observability import is_tracing_enabled


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AWS_LAMBDA_FUNCTION_NAME": "f"}, True),
        ({"AWS_LAMBDA_FUNCTION_NAME": "f", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({}, False),  # local runs and tests never load the X-Ray SDK
    ],
)
def test_tracing_only_in_lambda_unless_disabled(monkeypatch, env, expected):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert is_tracing_enabled() is expected
