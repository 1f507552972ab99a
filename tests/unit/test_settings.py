import ssl

import boto3
import pytest
from moto import mock_aws

from ticketmania.db.engine import pg8000_url
from ticketmania.settings import ConfigurationError, load_settings

GOOD_KEY = "k" * 40


@pytest.fixture
def env(monkeypatch):
    for name in ("SECRET_KEY", "SECRET_KEY_PARAMETER", "SECRET_KEY_SECRET_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@localhost/db")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # moto's, below
    monkeypatch.chdir("/")  # no .env of a developer's checkout
    return monkeypatch


def test_missing_secret_key_outside_local_stops_the_cold_start(env):
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        load_settings()


@pytest.mark.parametrize("weak", ["short", "changeme", "x" * 31])
def test_weak_secret_key_is_refused(env, weak):
    env.setenv("SECRET_KEY", weak)
    with pytest.raises(ConfigurationError, match="at least 32"):
        load_settings()


def test_local_mode_runs_without_a_secret_or_database(env):
    env.setenv("APP_ENV", "local")
    env.delenv("DATABASE_URL")
    settings = load_settings()
    assert settings.app_env == "local"


def test_local_mode_without_a_key_signs_with_the_local_development_key(env):
    from ticketmania.settings import LOCAL_DEVELOPMENT_KEY

    env.setenv("APP_ENV", "local")
    assert load_settings().secret_key.get_secret_value() == LOCAL_DEVELOPMENT_KEY


def test_the_local_development_key_is_refused_outside_local_mode(env):
    from ticketmania.settings import LOCAL_DEVELOPMENT_KEY

    env.setenv("SECRET_KEY", LOCAL_DEVELOPMENT_KEY)
    with pytest.raises(ConfigurationError, match="local development key"):
        load_settings()


def test_database_url_is_required_outside_local(env):
    env.setenv("SECRET_KEY", GOOD_KEY)
    env.delenv("DATABASE_URL")
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("notaurl", "must be a PostgreSQL URL"),
        ("mysql://u:hunter22@h/db", "must be a PostgreSQL URL"),
        ("postgresql://u:hunter22@h:abc/db", "port that is not a number"),
        ("postgresql://u:hunter22@h:99999/db", "port that is not a number"),
    ],
)
def test_a_malformed_database_url_is_one_line_naming_the_setting(env, url, problem):
    env.setenv("SECRET_KEY", GOOD_KEY)
    env.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "database_url" in message and problem in message
    assert "hunter22" not in message and "\n" not in message


@pytest.mark.parametrize(
    "url",
    [
        "postgres://u:p@h/db",
        "postgresql+psycopg2://u:p@h:5432/db?sslmode=require",
        "postgresql:///db?host=/var/run/postgresql",
    ],
)
def test_every_postgres_url_a_provider_hands_out_is_taken(env, url):
    env.setenv("SECRET_KEY", GOOD_KEY)
    env.setenv("DATABASE_URL", url)
    assert load_settings().database_url == url


def test_error_message_never_contains_the_secret(env):
    env.setenv("SECRET_KEY", "tiny-secret")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "tiny-secret" not in str(caught.value)


@mock_aws
def test_secret_key_from_ssm_parameter(env):
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/ticketmania/secret-key", Value=GOOD_KEY, Type="SecureString"
    )
    env.setenv("SECRET_KEY_PARAMETER", "/ticketmania/secret-key")
    assert load_settings().secret_key.get_secret_value() == GOOD_KEY


@mock_aws
def test_secret_key_from_secrets_manager(env):
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="tm-key", SecretString=GOOD_KEY
    )
    env.setenv("SECRET_KEY_SECRET_ID", "tm-key")
    assert load_settings().secret_key.get_secret_value() == GOOD_KEY


@pytest.mark.parametrize(
    "raw",
    [
        "postgres://u:p@db.example.com:5432/app",
        "postgresql://u:p@db.example.com:5432/app",
        "postgresql+psycopg2://u:p@db.example.com:5432/app",
        "postgresql+pg8000://u:p@db.example.com:5432/app",
    ],
)
def test_every_postgres_scheme_uses_pg8000(raw):
    url, connect_args = pg8000_url(raw)
    assert url.drivername == "postgresql+pg8000"
    assert (url.host, url.port, url.database, url.username) == (
        "db.example.com",
        5432,
        "app",
        "u",
    )
    assert "ssl_context" not in connect_args


def test_sslmode_require_encrypts_without_verifying():
    url, connect_args = pg8000_url(
        "postgresql://u:p@ep-x.neon.tech/app?sslmode=require&channel_binding=require"
    )
    context = connect_args["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_NONE
    assert "sslmode" not in url.query and "channel_binding" not in url.query


def test_sslmode_verify_full_verifies():
    _, connect_args = pg8000_url(
        "postgresql://u:p@rds.example.com/app?sslmode=verify-full"
    )
    assert connect_args["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert connect_args["ssl_context"].check_hostname


def test_socket_folder_becomes_unix_sock():
    _, connect_args = pg8000_url("postgresql://postgres:@/app?host=/tmp/pg")
    assert connect_args["unix_sock"] == "/tmp/pg/.s.PGSQL.5432"


def test_non_postgres_url_is_refused():
    with pytest.raises(ValueError):
        pg8000_url("mysql://u@localhost/db")


def test_configuration_errors_never_quote_the_values(monkeypatch):
    from ticketmania.settings import ConfigurationError, load_settings

    monkeypatch.setenv("ACCESS_TOKEN_EXPIRE_MINUTES", "sekret-looking-value")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "sekret-looking-value" not in str(caught.value)
    assert "access_token_expire_minutes" in str(caught.value)
