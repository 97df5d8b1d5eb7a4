"""The `opportunity-gateway` command: serve, migrate, seed, API keys, purge-trash, import, export, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
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
    key.add_argument("--expires-in-days", type=float, default=None, help="the key stops working after this")

    keys = sub.add_parser("list-api-keys", help="list API keys (never the keys themselves)")
    keys.add_argument("--organization", default=None, help="only this organization's keys")
    keys.add_argument("--all", action="store_true", help="include revoked keys")

    revoke = sub.add_parser("revoke-api-key", help="revoke an API key at once")
    revoke.add_argument("prefix", help="the key's visible prefix (og_<prefix>_…), as list-api-keys shows it")

    purge = sub.add_parser("purge-trash", help="delete for good the deals in the trash longer than DAYS")
    purge.add_argument("--older-than", type=float, required=True, metavar="DAYS")
    formats = ("oro", "apideck", "overplane", "onlyoffice", "nexudus")
    imp = sub.add_parser("import", help="upsert deals from one system's JSON list (by format and record id)")
    imp.add_argument("--format", required=True, choices=formats)
    imp.add_argument("file", type=Path)
    imp.add_argument("--organization", default=DEMO_ORGANIZATION)
    imp.add_argument("--dry-run", action="store_true", help="validate everything, write nothing, same report")
    imp.add_argument("--no-progress", action="store_true")
    exp = sub.add_parser("export", help="write deals as one system's JSON list")
    exp.add_argument("--format", required=True, choices=formats)
    exp.add_argument("--organization", default=DEMO_ORGANIZATION)
    exp.add_argument("--filter", default=None, help="an OpportunityFilter as JSON")
    exp.add_argument("--output", default=None, help="a file (default: standard output)")
    exp.add_argument("--no-progress", action="store_true")

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
        "list-api-keys": _list_api_keys,
        "revoke-api-key": _revoke_api_key,
        "export-schema": _export_schema,
        "purge-trash": _purge_trash,
        "import": _import,
        "export": _export,
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
    expires = None
    if args.expires_in_days is not None:
        if args.expires_in_days <= 0:
            sys.exit("--expires-in-days must be positive")
        expires = datetime.now(UTC) + timedelta(days=args.expires_in_days)
    key = asyncio.run(
        _new_key(
            _settings().database_url,
            args.organization,
            args.user,
            [Role(r) for r in args.role],
            args.name,
            expires,
        )
    )
    until = f", until {expires:%Y-%m-%d %H:%M} UTC" if expires else ""
    print(f"created a key for {args.user} in {args.organization} with roles {', '.join(args.role)}{until}:")
    print(key)


async def _new_key(
    url: str,
    organization: str,
    email: str,
    roles: list[Role],
    name: str | None,
    expires_at: datetime | None = None,
) -> str:
    from app.auth import create_api_key, ensure_user
    from app.db import make_engine, make_sessionmaker
    from app.tenancy import SESSION_KEY, UNSCOPED

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            session.info[SESSION_KEY] = UNSCOPED
            user = await ensure_user(session, organization=organization, email=email)
            created = await create_api_key(session, user=user, roles=roles, name=name, expires_at=expires_at)
        return created.key
    finally:
        await engine.dispose()


def _purge_trash(args: argparse.Namespace) -> None:
    if args.older_than < 0:
        sys.exit("--older-than must not be negative")
    cutoff = datetime.now(UTC) - timedelta(days=args.older_than)
    purged = asyncio.run(_purge(_settings().database_url, cutoff))
    print(f"purged {purged} deal(s) deleted before {cutoff:%Y-%m-%d %H:%M} UTC")


async def _purge(url: str, cutoff: datetime) -> int:
    from app.crud.trash import purge_before
    from app.db import begin_write, make_engine, make_sessionmaker
    from app.tenancy import SESSION_KEY, UNSCOPED

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            session.info[SESSION_KEY] = UNSCOPED
            await begin_write(session)
            return await purge_before(session, cutoff)
    finally:
        await engine.dispose()


def _list_api_keys(args: argparse.Namespace) -> None:
    rows = asyncio.run(_keys(_settings().database_url, args.organization, args.all))
    header = ["PREFIX", "ORGANIZATION", "USER", "ROLES", "NAME", "CREATED", "LAST USED", "EXPIRES", "STATUS"]
    print("\t".join(header))
    for row in rows:
        print("\t".join(row))


async def _keys(url: str, organization: str | None, include_revoked: bool) -> list[list[str]]:
    from sqlalchemy import select

    from app.auth import is_active, list_api_keys, roles_of
    from app.db import make_engine, make_sessionmaker
    from app.models import Organization, User
    from app.tenancy import SESSION_KEY, UNSCOPED

    def when(value: datetime | None) -> str:
        return f"{value:%Y-%m-%d %H:%M}" if value else "-"

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            session.info[SESSION_KEY] = UNSCOPED
            orgs = {o.id: o.name for o in (await session.execute(select(Organization))).scalars()}
            users = {u.id: u.email for u in (await session.execute(select(User))).scalars()}
            keys = await list_api_keys(session, include_revoked=include_revoked)
    finally:
        await engine.dispose()
    return [
        [
            k.prefix,
            orgs.get(k.organization_id, "?"),
            users.get(k.user_id, "?"),
            ",".join(r.value for r in roles_of(k)),
            k.name or "-",
            when(k.created_at),
            when(k.last_used_at),
            when(k.expires_at),
            "active" if is_active(k) else ("revoked" if k.revoked_at else "expired"),
        ]
        for k in keys
        if organization is None or orgs.get(k.organization_id) == organization
    ]


def _revoke_api_key(args: argparse.Namespace) -> None:
    prefix = args.prefix.removeprefix("og_").split("_")[0]
    if not asyncio.run(_revoke(_settings().database_url, prefix)):
        sys.exit(f"no API key with prefix {prefix!r}")
    print(f"revoked the API key {prefix}")


async def _revoke(url: str, prefix: str) -> bool:
    from sqlalchemy import select

    from app.auth import revoke_api_key
    from app.db import make_engine, make_sessionmaker
    from app.models import ApiKey
    from app.tenancy import SESSION_KEY, UNSCOPED

    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            session.info[SESSION_KEY] = UNSCOPED
            row = (await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))).scalar()
            return row is not None and await revoke_api_key(session, row.id) is not None
    finally:
        await engine.dispose()


def _import(args: argparse.Namespace) -> None:
    from app.interop.cli import run_import
    from app.migrate import upgrade

    url = _settings().database_url
    upgrade(url)
    progress = not args.no_progress
    code = asyncio.run(
        run_import(url, args.format, args.file, args.organization, dry_run=args.dry_run, progress=progress)
    )
    sys.exit(code)


def _export(args: argparse.Namespace) -> None:
    from app.interop.cli import run_export

    url = _settings().database_url
    progress = not args.no_progress and args.output is not None
    sys.exit(
        asyncio.run(
            run_export(url, args.format, args.organization, args.filter, args.output, progress=progress)
        )
    )


def _export_schema(args: argparse.Namespace) -> None:
    from app.graphql.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    Path(args.path).write_text(sdl, encoding="utf-8")
    print(f"wrote {args.path}", file=sys.stderr)


def _serve(args: argparse.Namespace) -> None:
    from app.graphiql.page import is_loopback
    from app.serve import serve

    if args.demo:
        os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
        key = _prepare_demo(args.demo_opportunities)
        url = f"http://{args.host}:{args.port}/graphql"
        prefilled = is_loopback(args.host)
        if prefilled:  # GraphiQL pre-fills it for visitors from this machine only
            os.environ["OG_GRAPHIQL_DEMO_KEY"] = key
        print(
            f"\nopportunity-gateway demo on {_redact(os.environ['DATABASE_URL'])}\n"
            f"  GraphiQL:  {url}  (open it in a browser)\n"
            f"  API key:   {key}\n"
            f"  GraphiQL's key field: {'pre-filled with this key' if prefilled else 'paste this key'}\n"
            f"  curl:      curl -s {url} -H 'Authorization: Bearer {key}' "
            "-H 'Content-Type: application/json' -d '{\"query\":\"{ viewer { displayName } }\"}'\n",
            flush=True,
        )
    serve(args.host, args.port, args.workers)


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
