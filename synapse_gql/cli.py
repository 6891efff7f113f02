"""``synapse-gql``: serve, migrate, seed, admin, export-schema, rotate-secrets."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from synapse_gql.config import Settings
from synapse_gql.errors import ConfigurationError

if TYPE_CHECKING:
    from synapse_gql.demo import DemoLogin
    from synapse_gql.security.keys import Keyring

logger = logging.getLogger("synapse_gql")


@contextlib.contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The configured URL, or the embedded server's (started here, stopped on exit)."""
    if settings.database_url:
        yield settings.database_url
        return
    from synapse_gql.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(settings.pgdata_dir)
    try:
        yield server.ensure_database()
    finally:
        server.stop()


async def _seed(url: str) -> int:
    from synapse_gql.catalog.service import seed_catalog
    from synapse_gql.db import Database

    db = Database(url, pool_size=1)
    try:
        async with db.transaction() as session:
            return await seed_catalog(session)
    finally:
        await db.dispose()


async def _demo(url: str) -> DemoLogin:
    from synapse_gql.db import Database
    from synapse_gql.demo import ensure_demo

    db = Database(url, pool_size=1)
    try:
        return await ensure_demo(db)
    finally:
        await db.dispose()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from synapse_gql import migrations
    from synapse_gql.observability.wiring import share_metrics_between
    from synapse_gql.security.secret import resolve_secret
    from synapse_gql.serving import uvicorn_options

    secret = resolve_secret(settings)  # fail before starting anything
    with database_url(settings) as url:
        if not args.no_migrate:
            migrations.upgrade(url)
            asyncio.run(_seed(url))
        if args.demo:
            login = asyncio.run(_demo(url))
            print(_demo_banner(login, args.host, args.port), flush=True)
        # Workers are separate processes: hand them the resolved URL and secret.
        os.environ["SYNAPSE_DATABASE_URL"] = url
        os.environ["SYNAPSE_SECRET_KEY"] = secret
        # uvicorn re-raises SIGTERM after a graceful shutdown; turning it into SystemExit
        # lets the embedded PostgreSQL be stopped on the way out.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        share_metrics_between(args.workers, settings)
        uvicorn.run(
            **uvicorn_options(),
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=settings.log_level,
        )
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _demo_banner(login: DemoLogin, host: str, port: int) -> str:
    return (
        f"\nDemo ready. Open http://{host}:{port}/graphql and run:\n\n"
        f'  mutation {{ login(input: {{email: "{login.email}", password: "{login.password}"}}) '
        "{ ... on AuthPayload { accessToken } ... on UserError { code message } } }\n\n"
        'Then set the header {"Authorization": "Bearer <accessToken>"} and query '
        f'`workspace(slug: "{login.workspace_slug}")`.\n'
    )


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from synapse_gql import migrations

    with database_url(settings) as url:
        if args.direction == "upgrade":
            migrations.upgrade(url, args.revision or "head")
        else:
            migrations.downgrade(url, args.revision or "-1")
    return 0


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    with database_url(settings) as url:
        added = asyncio.run(_seed(url))
        print(f"catalog: {added} model(s) added")
        if args.demo:
            login = asyncio.run(_demo(url))
            print(f"demo login: {login.email} / {login.password}")
    return 0


async def _set_admin(url: str, email: str, is_admin: bool) -> bool:
    from sqlalchemy import CursorResult, update

    from synapse_gql.db import Database
    from synapse_gql.models import User

    db = Database(url, pool_size=1)
    try:
        async with db.transaction() as session:
            stmt = update(User).where(User.email == email.strip().lower())
            result = await session.execute(stmt.values(is_platform_admin=is_admin))
            return bool(cast(CursorResult[Any], result).rowcount)
    finally:
        await db.dispose()


def cmd_admin(args: argparse.Namespace, settings: Settings) -> int:
    with database_url(settings) as url:
        if not asyncio.run(_set_admin(url, args.email, not args.revoke)):
            print(f"no user with email {args.email}", file=sys.stderr)
            return 1
    print(f"{args.email}: platform admin {'revoked' if args.revoke else 'granted'}")
    return 0


def cmd_export_schema(args: argparse.Namespace, settings: Settings) -> int:
    from synapse_gql.schema import schema

    sdl = schema.as_str() + "\n"
    target = Path(args.output)
    if args.check:
        current = target.read_text() if target.exists() else ""
        if current != sdl:
            print(f"{target} is stale: run `synapse-gql export-schema`.", file=sys.stderr)
            return 1
        print(f"{target} is up to date.")
        return 0
    target.write_text(sdl)
    print(f"wrote {target}")
    return 0


def cmd_documents_export(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from synapse_gql.operations.manifest import build_manifest

    manifest = build_manifest(Path(args.source))
    text = json.dumps(manifest, indent=2) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    Path(args.output).write_text(text)
    print(f"wrote {args.output}: {len(manifest['operations'])} operation(s)")
    return 0


async def _rotate_secrets(url: str, keyring: Keyring, batch_size: int) -> int:
    from synapse_gql.db import Database
    from synapse_gql.variables.rotation import rotate_secrets

    db = Database(url, pool_size=1)
    try:
        return await rotate_secrets(db, keyring, batch_size)
    finally:
        await db.dispose()


def cmd_rotate_secrets(args: argparse.Namespace, settings: Settings) -> int:
    from synapse_gql.security.keys import Keyring
    from synapse_gql.security.secret import resolve_secret

    previous = [s.get_secret_value() for s in settings.previous_secret_keys]
    keyring = Keyring(resolve_secret(settings), previous)
    with database_url(settings) as url:
        count = asyncio.run(_rotate_secrets(url, keyring, args.batch_size))
    print(f"rotate-secrets: {count} value(s) re-encrypted under the current secret")
    return 0


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synapse-gql", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve",
        help="Run the GraphQL server (starts an embedded PostgreSQL when DATABASE_URL is not set).",
    )
    serve.add_argument(
        "--host", default=None, help="Bind address (default SYNAPSE_HOST or 127.0.0.1)."
    )
    serve.add_argument(
        "--port", type=int, default=None, help="Port (default SYNAPSE_PORT or 8000)."
    )
    serve.add_argument("--workers", type=int, default=1, help="Worker processes (default 1).")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="Create a demo user, workspace, project and agent; print the login.",
    )
    serve.add_argument(
        "--no-migrate",
        action="store_true",
        help="Do not apply migrations and seed the catalog at start-up.",
    )
    serve.set_defaults(handler=cmd_serve)

    migrate = sub.add_parser("migrate", help="Apply or roll back database migrations.")
    migrate.add_argument(
        "direction", choices=["upgrade", "downgrade"], nargs="?", default="upgrade"
    )
    migrate.add_argument(
        "revision",
        nargs="?",
        default=None,
        help="Target revision (upgrade: head; downgrade: -1; 'base' for all).",
    )
    migrate.set_defaults(handler=cmd_migrate)

    seed = sub.add_parser("seed", help="Load the LLM catalog (idempotent).")
    seed.add_argument("--demo", action="store_true", help="Also create the demo objects.")
    seed.set_defaults(handler=cmd_seed)

    admin = sub.add_parser("admin", help="Grant (or revoke) platform-admin rights to a user.")
    admin.add_argument("email", help="The user's email.")
    admin.add_argument("--revoke", action="store_true", help="Take the rights away instead.")
    admin.set_defaults(handler=cmd_admin)

    export = sub.add_parser("export-schema", help="Write the GraphQL SDL to schema.graphql.")
    export.add_argument("--output", default="schema.graphql", help="Target file.")
    export.add_argument(
        "--check", action="store_true", help="Exit 1 when the file differs from the code's schema."
    )
    export.set_defaults(handler=cmd_export_schema)

    documents = sub.add_parser("documents", help="Trusted documents (persisted operations).")
    documents_sub = documents.add_subparsers(dest="documents_command", required=True)
    export_documents = documents_sub.add_parser(
        "export",
        help="Write every operation of schema/ as an Apollo persisted query manifest.",
    )
    export_documents.add_argument(
        "--output", default="-", help="Target file (default: standard output)."
    )
    export_documents.add_argument(
        "--source", default="schema", help="Directory of .graphql documents (default schema)."
    )
    export_documents.set_defaults(handler=cmd_documents_export)

    rotate = sub.add_parser(
        "rotate-secrets",
        help="Re-encrypt stored variables and workspace secrets under the current secret "
        "(keep the old one in SYNAPSE_PREVIOUS_SECRET_KEYS until this has run).",
    )
    rotate.add_argument(
        "--batch-size",
        type=_positive_int,
        default=500,
        help="Rows re-encrypted per transaction (default 500).",
    )
    rotate.set_defaults(handler=cmd_rotate_secrets)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    if getattr(args, "host", None) is None and args.command == "serve":
        args.host = settings.host
    if getattr(args, "port", None) is None and args.command == "serve":
        args.port = settings.port
    try:
        return args.handler(args, settings)
    except ConfigurationError as error:
        print(f"synapse-gql: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
