"""The `import` and `export` commands: who they act as, the filter, the report."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlmodel import SQLModel

from app import models
from app.db import make_engine, make_sessionmaker
from app.enums import Role
from app.interop import engine as interop
from app.interop.formats import get
from app.migrate import analyze
from app.tenancy import SESSION_KEY, UNSCOPED, Principal

m: Any = models  # the tables' columns, untyped: SQLModel types them as their values

DEFAULT_ORGANIZATION = "Acme Demo"
ANALYZE_AFTER = 1000  # deals created by one import: the tables are new to PostgreSQL's planner


async def acting_as(sessions: Any, organization: str, *, create: bool) -> Principal:
    """An admin principal of `organization` (its first user), made with an import user when asked."""
    async with sessions() as session, session.begin():
        session.info[SESSION_KEY] = UNSCOPED
        org = (
            await session.execute(select(m.Organization).where(m.Organization.name == organization))
        ).scalar()
        if org is None:
            if not create:
                raise SystemExit(f"no organization named {organization!r}")
            org = m.Organization(name=organization)
            session.add(org)
            await session.flush()
        user = (
            await session.execute(
                select(m.User).where(m.User.organization_id == org.id).order_by(m.User.id).limit(1)
            )
        ).scalar()
        if user is None:
            if not create:
                raise SystemExit(f"organization {organization!r} has no user to act as")
            user = m.User(organization_id=org.id, email="import@gateway.invalid", display_name="Import")
            session.add(user)
            await session.flush()
        assert org.id is not None and user.id is not None
        return Principal(organization_id=org.id, user_id=user.id, roles=frozenset({Role.ADMIN}))


def compile_filter(text: str | None) -> Any:
    """A JSON OpportunityFilter, checked against the schema and compiled like the API's."""
    if not text:
        return None
    from graphql import GraphQLError, coerce_input_value
    from graphql.utilities.validate_input_value import validate_input_value
    from strawberry.types.arguments import convert_argument

    from app import query
    from app.graphql.opportunities import OpportunityFilter
    from app.graphql.schema import build_schema

    schema = build_schema()
    problems: list[str] = []

    def refuse(error: GraphQLError, path: Any) -> None:
        problems.append(error.message)

    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise SystemExit(f"--filter is not JSON: {exc}") from exc
    gql_type = schema._schema.get_type("OpportunityFilter")
    validate_input_value(raw, gql_type, refuse)  # type: ignore[arg-type]
    if problems:
        raise SystemExit("--filter: " + "; ".join(problems))
    coerced = coerce_input_value(raw, gql_type)  # type: ignore[arg-type]
    flt = convert_argument(coerced, OpportunityFilter, schema.schema_converter.scalar_registry, schema.config)
    return query.compile_filter(flt)


async def run_import(
    url: str, fmt: str, path: Path, organization: str, *, dry_run: bool, progress: bool
) -> int:
    engine = make_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        who = await acting_as(sessions, organization, create=not dry_run)

        def report(outcome: interop.Outcome) -> None:
            sys.stdout.write(json.dumps(outcome.as_json(), default=str) + "\n")

        counts = await interop.import_file(
            sessions, get(fmt), path, who, dry_run=dry_run, progress=progress, report=report
        )
        if counts.get("created", 0) >= ANALYZE_AFTER:  # a bulk load: the planner's statistics
            await analyze(engine, [t.name for t in SQLModel.metadata.sorted_tables])
    finally:
        await engine.dispose()
    summary = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("created", "updated", "unchanged", "refused"))
    print(f"{'dry run: ' if dry_run else ''}{summary}", file=sys.stderr)
    return 1 if counts.get("refused") else 0


async def run_export(
    url: str, fmt: str, organization: str, flt: str | None, output: str | None, *, progress: bool
) -> int:
    where = compile_filter(flt)
    engine = make_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        who = await acting_as(sessions, organization, create=False)
        target: Any = open(output, "wb") if output else nullcontext(sys.stdout.buffer)  # noqa: SIM115, ASYNC230
        with target as out:
            count = await interop.export(
                sessions, get(fmt), who, _stream(out), where=where, progress=progress
            )
    finally:
        await engine.dispose()
    print(f"exported {count} deals", file=sys.stderr)
    return 0


def _stream(out: IO[bytes]) -> IO[bytes]:
    return out
