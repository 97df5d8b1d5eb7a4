"""The `opportunity-gateway` command: serve, migrate, seed, create-api-key, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from app.enums import Role
from app.settings import DEFAULT_DATABASE_URL, Settings

DEMO_ORGANIZATION = "Acme Demo"
DEMO_ADMIN = "admin@acme-demo.example"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="opportunity-gateway", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--demo",
        action="store_true",
        help="embedded SQLite, migrated, demo data seeded if empty; prints an admin key",
    )
    serve.add_argument("--demo-opportunities", type=int, default=2000, help=argparse.SUPPRESS)

    sub.add_parser("migrate", help="bring the database to the latest schema")

    seed = sub.add_parser("seed", help="fill the database with deterministic demo data")
    seed.add_argument("--opportunities", type=int, required=True)
    seed.add_argument("--organization", default=None)
    seed.add_argument("--seed", type=int, default=0)
    seed.add_argument("--no-progress", action="store_true")

    key = sub.add_parser("create-api-key", help="create an API key (prints it on the last line)")
    key.add_argument("--organization", required=True)
    key.add_argument("--user", required=True, help="the user's email")
    key.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    key.add_argument("--name", default=None)

    export = sub.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument("path", nargs="?", default="schema.graphql")
    return p


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    handler = {
        "serve": _serve,
        "migrate": _migrate,
        "seed": _seed,
        "create-api-key": _create_api_key,
        "export-schema": _export_schema,
    }[args.command]
    handler(args)


def _settings() -> Settings:
    return Settings.from_env()


def _migrate(_: argparse.Namespace) -> None:
    from app.migrate import upgrade

    url = _settings().database_url
    upgrade(url)
    print(f"migrated {_redact(url)} to the latest schema", file=sys.stderr)


def _seed(args: argparse.Namespace) -> None:
    from app.migrate import upgrade

    url = _settings().database_url
    upgrade(url)
    report = asyncio.run(
        _seed_async(url, args.opportunities, args.organization, args.seed, not args.no_progress)
    )
    print(report, file=sys.stderr)


async def _seed_async(url: str, n: int, organization: str | None, seed: int, progress: bool) -> object:
    from app.db import make_engine
    from app.demo import seed_demo

    engine = make_engine(url)
    try:
        return await seed_demo(
            engine, opportunities=n, organization=organization, seed=seed, progress=progress
        )
    finally:
        await engine.dispose()


def _create_api_key(args: argparse.Namespace) -> None:
    key = asyncio.run(
        _new_key(
            _settings().database_url, args.organization, args.user, [Role(r) for r in args.role], args.name
        )
    )
    print(f"created a key for {args.user} in {args.organization} with roles {', '.join(args.role)}:")
    print(key)


async def _new_key(url: str, organization: str, email: str, roles: list[Role], name: str | None) -> str:
    from app.auth import create_api_key, ensure_user
    from app.db import make_engine, make_sessionmaker
    from app.tenancy import SESSION_KEY, UNSCOPED

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            session.info[SESSION_KEY] = UNSCOPED
            user = await ensure_user(session, organization=organization, email=email)
            created = await create_api_key(session, user=user, roles=roles, name=name)
        return created.key
    finally:
        await engine.dispose()


def _export_schema(args: argparse.Namespace) -> None:
    from app.graphql.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    Path(args.path).write_text(sdl, encoding="utf-8")
    print(f"wrote {args.path}", file=sys.stderr)


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    if args.demo:
        os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
        key = _prepare_demo(args.demo_opportunities)
        url = f"http://{args.host}:{args.port}/graphql"
        print(
            f"\nopportunity-gateway demo on {_redact(os.environ['DATABASE_URL'])}\n"
            f"  GraphiQL:  {url}  (open it in a browser)\n"
            f"  API key:   {key}\n"
            f'  In GraphiQL, open "Headers" and paste: {{"Authorization": "Bearer {key}"}}\n'
            f"  curl:      curl -s {url} -H 'Authorization: Bearer {key}' "
            "-H 'Content-Type: application/json' -d '{\"query\":\"{ viewer { displayName } }\"}'\n",
            flush=True,
        )
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
    )


def _prepare_demo(opportunities: int) -> str:
    from app.migrate import upgrade

    url = os.environ["DATABASE_URL"]
    upgrade(url)

    async def prepare() -> str:
        from app.db import make_engine
        from app.demo import has_data, seed_demo

        engine = make_engine(url)
        try:
            if not await has_data(engine):
                await seed_demo(engine, opportunities=opportunities, seed=0, progress=True)
        finally:
            await engine.dispose()
        return await _new_key(url, DEMO_ORGANIZATION, DEMO_ADMIN, [Role.ADMIN], "demo")

    return asyncio.run(prepare())


def _redact(url: str) -> str:
    """The URL without a password, for printing."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url
