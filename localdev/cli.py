"""The `ticketmania` command: serve, job, migrate, create-admin, ticket-key."""

from __future__ import annotations

import argparse
import getpass
import hashlib
import os
import secrets
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localdev.embedded import EmbeddedPostgres

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Measured on the 2-core machine (BENCHMARKS.md): four workers served the most
# bookings per second, every round above two's and level with eight's: each
# worker waits on Postgres for part of every request, so two cores keep more
# than two busy.
DEFAULT_WORKERS = 4


def project_root() -> Path:
    """The folder holding template.yaml: the current one or an ancestor, else this checkout."""
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "template.yaml").is_file():
            return folder
    return Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    return Path(os.environ.get("TICKETMANIA_DATA_DIR", project_root() / ".data"))


def say(message: str) -> None:
    print(f"ticketmania: {message}", file=sys.stderr, flush=True)


def _local_secret_key(folder: Path) -> str:
    """A per-checkout random key, kept so tokens survive a restart of the local server."""
    path = folder / "secret_key"
    if path.is_file():
        return path.read_text().strip()
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def local_key_prefix(database_url: str) -> str:
    """A Redis key prefix of this local deployment, named after its database
    (server, port and database: never the credentials), so two local servers
    sharing one Redis never read each other's keys."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url.replace("postgres://", "postgresql://", 1))
    place = f"{url.host}|{url.query.get('host')}|{url.port}|{url.database}"
    return "local-" + hashlib.sha256(place.encode()).hexdigest()[:12]


def _local_ticket_key(folder: Path) -> str:
    """A per-checkout ticket signing key, kept so tickets survive a restart."""
    path = folder / "ticket_signing_key"
    if path.is_file():
        return path.read_text().strip()
    from ticketmania.tickets import new_key

    folder.mkdir(parents=True, exist_ok=True)
    key = new_key()
    path.write_text(key)
    path.chmod(0o600)
    return key


def _redis_reachable(url: str) -> bool:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
    except (redis.RedisError, OSError):
        return False
    return True


@contextmanager
def local_environment(*, with_cache: bool) -> Iterator[EmbeddedPostgres | None]:
    """Fill in what a local run lacks: APP_ENV, a database, a secret key, a cache.

    Yields the embedded Postgres when one was started (None otherwise), and
    stops it on the way out.
    """
    from ticketmania.settings import get_settings, read_environment

    os.environ.setdefault("APP_ENV", "local")
    # The layer keeps mail/ and reports/ where this command keeps its own files.
    os.environ.setdefault("TICKETMANIA_DATA_DIR", str(data_dir()))
    configured = read_environment()
    embedded = None
    if not configured.database_url:
        from localdev.embedded import EmbeddedPostgres

        say(
            f"no DATABASE_URL: starting the embedded Postgres in {data_dir() / 'postgres'}"
        )
        embedded = EmbeddedPostgres(data_dir() / "postgres")
        os.environ["DATABASE_URL"] = embedded.url
    if configured.app_env == "local" and not configured.secret_key.get_secret_value():
        os.environ["SECRET_KEY"] = _local_secret_key(data_dir())
    if (
        configured.app_env == "local"
        and not configured.ticket_signing_keys.get_secret_value()
        and not configured.ticket_signing_keys_parameter
    ):
        os.environ["TICKET_SIGNING_KEYS"] = _local_ticket_key(data_dir())
    os.environ.setdefault(
        "REDIS_KEY_PREFIX", local_key_prefix(os.environ["DATABASE_URL"])
    )
    if with_cache:
        redis_url = configured.redis_url or DEFAULT_REDIS_URL
        if _redis_reachable(redis_url):
            os.environ["REDIS_URL"] = redis_url
            say(f"cache: Redis at {redis_url.split('@')[-1]}")
        else:
            os.environ["REDIS_URL"] = ""
            say(f"cache disabled: no Redis reachable at {redis_url.split('@')[-1]}")
    get_settings.cache_clear()
    try:
        yield embedded
    finally:
        if embedded is not None:
            embedded.stop()


def database_place(database_url: str) -> str:
    """host:port/database of a URL, never its credentials."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url.replace("postgres://", "postgresql://", 1))
    host = url.host or url.query.get("host") or "localhost"
    return f"{host}:{url.port or 5432}/{url.database}"


def why_unreachable(exc: BaseException) -> str:
    """What the server or the network said, in a few words (never SQL or values)."""
    cause: BaseException | None = exc
    while cause is not None:
        fields = cause.args[0] if cause.args else None
        if isinstance(fields, dict) and fields.get("M"):
            return str(
                fields["M"]
            )  # the server's own words: 'database "x" does not exist'
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
        if isinstance(cause, TimeoutError | socket.timeout):
            return "timed out"
        cause = cause.__cause__ or cause.__context__
    return type(exc).__name__


def migrate() -> None:
    import pg8000
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    from ticketmania.db.engine import get_engine
    from ticketmania.db.migrate import upgrade_to_head
    from ticketmania.settings import ConfigurationError, get_settings

    try:
        upgrade_to_head(get_engine())
    except (DBAPIError, PoolTimeoutError, pg8000.Error, OSError) as exc:
        place = database_place(get_settings().database_url)
        raise ConfigurationError(
            f"cannot use the database at {place}: {why_unreachable(exc)}"
        ) from None
    say("database migrated to the latest revision")


def cmd_migrate(args: argparse.Namespace) -> int:
    with local_environment(with_cache=False):
        migrate()
    return 0


def cmd_job(args: argparse.Namespace) -> int:
    import json

    from ticketmania.jobs import JOBS, JobInput, run_job

    if args.name not in JOBS:
        say(f"no job named {args.name!r}: one of {', '.join(JOBS)}")
        return 2
    with local_environment(with_cache=True):
        migrate()
        outcome = run_job(
            args.name,
            JobInput(
                repair=args.repair,
                day=args.date,
            ),
        )
    print(json.dumps({"job": args.name, **outcome}, default=str))
    return 0


def cmd_pay(args: argparse.Namespace) -> int:
    """Pay a pending order with the test provider: a `payment_intent.succeeded`
    for its payment, signed as Stripe signs (with STRIPE_WEBHOOK_SECRET, or the
    local development secret), sent to the running server's webhook."""
    import uuid

    import httpx

    from ticketmania.db import payments as payment_table
    from ticketmania.db.engine import open_session
    from ticketmania.payments.test_provider import (
        LOCAL_WEBHOOK_SECRET,
        payment_succeeded_event,
        sign_webhook,
    )
    from ticketmania.settings import get_settings

    with local_environment(with_cache=False):
        with open_session() as session:
            payment = payment_table.of_booking(session, args.order_id)
        secrets = get_settings().stripe_webhook_secret.get_secret_value()
    if payment is None:
        say(
            f"order {args.order_id} has no payment: POST /orders/{args.order_id}/payments first"
        )
        return 1
    body = payment_succeeded_event(
        event_id=f"evt_local_{uuid.uuid4().hex}",
        payment_id=payment.provider_payment_id,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
    )
    secret = secrets.split(",")[0].strip() or LOCAL_WEBHOOK_SECRET
    answer = httpx.post(
        f"{args.url.rstrip('/')}/payments/stripe/webhook",
        content=body,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": sign_webhook(body, secret),
        },
        timeout=30,
    )
    print(answer.text)
    return 0 if answer.status_code == 200 else 1


def ask_password() -> str | None:
    """The password, typed twice without echo (read as two lines when not typed
    at a terminal); None when the two differ."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        second = getpass.getpass("Password again: ")
    else:
        first = sys.stdin.readline().rstrip("\n")
        second = sys.stdin.readline().rstrip("\n")
    return first if first == second else None


def cmd_create_admin(args: argparse.Namespace) -> int:
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(args.email, check_deliverability=False)
    except EmailNotValidError as exc:
        say(f"invalid email: {exc}")
        return 2
    from ticketmania.db.users import canonical_email

    email = canonical_email(args.email)
    password = args.password if args.password is not None else ask_password()
    if password is None:
        say("the passwords do not match")
        return 2
    if not 8 <= len(password) <= 128:
        say("the password must be 8 to 128 characters")
        return 2
    with local_environment(with_cache=False):
        migrate()
        from ticketmania.admins import create_or_promote_admin
        from ticketmania.db.engine import open_session

        with open_session() as session:
            result = create_or_promote_admin(
                session,
                email=email,
                password=password,
                name=args.name,
                reset_password=args.reset_password,
                role=args.role,
            )
    messages = {
        "created": f"created {args.role} {email} (id {result.user_id})",
        "promoted": f"promoted {email} (id {result.user_id}) to {args.role}; password unchanged (--reset-password to set it)",
        "promoted_with_new_password": f"promoted {email} (id {result.user_id}) to {args.role} and reset the password",
    }
    say(messages[result.outcome])
    return 0


def cmd_ticket_key(args: argparse.Namespace) -> int:
    from ticketmania.tickets import new_key

    print(new_key())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from localdev.gateway import PARENT_VARIABLE, gateway_for, serving_functions
    from ticketmania.settings import get_settings

    # The port first: a second `make run` says so before it starts, migrates or
    # runs anything.
    try:
        listener = tcp_listener(args.host, args.port)
    except OSError as exc:
        say(f"cannot listen on {args.host}:{args.port}: {exc.strerror}")
        return 1
    port = listener.getsockname()[1]  # the real one, for --port 0
    with listener, local_environment(with_cache=True) as embedded:
        migrate()
        scheduler = None
        if get_settings().ticketmania_jobs == "on":
            from localdev.scheduler import Scheduler

            scheduler = Scheduler().start()
            say("jobs: running on their schedules (TICKETMANIA_JOBS=off to stop them)")

        def stop_jobs_then_database() -> None:
            # In this order: a job running while the embedded Postgres stops
            # fails (and says so) mid-statement.
            if scheduler is not None:
                scheduler.stop()
            from ticketmania.db.engine import get_engine

            get_engine().dispose()
            if embedded is not None:
                embedded.stop()

        functions = serving_functions(project_root())
        routes = sum(len(spec.routes) for spec in functions)
        say(
            f"serving {routes} routes of {len(functions)} functions on "
            f"http://{args.host}:{port} with {args.workers} worker(s) (docs at /docs)"
        )
        try:
            # The client's address is the socket's peer, never a header it sent.
            if args.workers == 1:
                gateway = gateway_for(
                    project_root(), on_shutdown=stop_jobs_then_database
                )
                config = uvicorn.Config(
                    gateway,
                    lifespan="on",
                    log_level=args.log_level,
                    proxy_headers=False,
                )
                uvicorn.Server(config).run(sockets=[listener])
            else:
                # Each worker process builds its own gateway from the environment
                # set above, and ends itself if this process dies; the embedded
                # Postgres stays with this process, which stops it once the
                # workers have.
                os.environ[PARENT_VARIABLE] = str(os.getpid())
                config = uvicorn.Config(
                    "localdev.gateway:gateway_for_worker",
                    factory=True,
                    workers=args.workers,
                    lifespan="on",
                    log_level=args.log_level,
                    proxy_headers=False,
                )
                Multiprocess(config, sockets=[listener]).run()
        except KeyboardInterrupt:
            # uvicorn has shut down on Ctrl-C and raises it again: a clean stop.
            pass
        finally:
            stop_jobs_then_database()
    return 0


def tcp_listener(host: str, port: int) -> socket.socket:
    """The server's listening socket (its workers share it), made as a TCP
    socket by name, so asyncio sets TCP_NODELAY on every connection it accepts
    from it.

    uvicorn makes it with protocol 0, and asyncio sets TCP_NODELAY only on
    connections of a socket whose protocol says TCP: every response then waited
    ~40 ms for the client's delayed ACK between its head and its body
    (BENCHMARKS.md).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.set_inheritable(True)
    return listener


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a day: YYYY-MM-DD"
        ) from None


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ticketmania")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ticketmania", description="TicketMania local tools"
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {package_version()}"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="serve every function of template.yaml: this process and its workers",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help="worker processes, each serving one request at a time as a Lambda "
        f"container does (default {DEFAULT_WORKERS}; BENCHMARKS.md)",
    )
    serve.set_defaults(run=cmd_serve)

    job = commands.add_parser("job", help="run one scheduled job now")
    job.add_argument(
        "name",
        help="relay-outbox, expire-holds, reconcile-seats, purge-idempotency-keys, warm-cache, refund-pending, waiting-room-inlet or sales-report",
    )
    job.add_argument(
        "--repair", action="store_true", help="reconcile-seats: fix what drifted"
    )
    job.add_argument(
        "--date",
        type=_day,
        help="sales-report: the day (YYYY-MM-DD; default yesterday, UTC)",
    )
    job.set_defaults(run=cmd_job)

    migrate_parser = commands.add_parser("migrate", help="apply database migrations")
    migrate_parser.set_defaults(run=cmd_migrate)

    admin = commands.add_parser(
        "create-admin", help="create an admin, or promote an existing user"
    )
    admin.add_argument("--email", required=True)
    admin.add_argument(
        "--password",
        help="the password; left out, it is asked for twice without echo "
        "(or read as two lines from a pipe)",
    )
    admin.add_argument("--name")
    admin.add_argument(
        "--role",
        choices=("admin", "staff"),
        default="admin",
        help="staff: may check tickets in at the door and read the counts, nothing else",
    )
    admin.add_argument(
        "--reset-password",
        action="store_true",
        help="also set the password of an existing user",
    )
    admin.set_defaults(run=cmd_create_admin)

    pay = commands.add_parser(
        "pay",
        help="pay a pending order as the test payment provider: send the running "
        "server a signed payment_intent.succeeded for its payment",
    )
    pay.add_argument("order_id", type=int)
    pay.add_argument("--url", default="http://127.0.0.1:8000", help="the server")
    pay.set_defaults(run=cmd_pay)

    ticket_key = commands.add_parser(
        "ticket-key",
        help="print a new key to sign ticket codes with (for TICKET_SIGNING_KEYS)",
    )
    ticket_key.set_defaults(run=cmd_ticket_key)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ticketmania.settings import ConfigurationError

    try:
        return int(args.run(args))
    except ConfigurationError as exc:
        say(str(exc))
        return 2


if __name__ == "__main__":
    sys.exit(main())
