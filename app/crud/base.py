"""What every write needs: the caller, the clock, row reads, stage locks and the version bump."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import case, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import models as m
from app.changes import record
from app.errors import ErrorCode
from app.sqltypes import utcnow
from app.tenancy import SESSION_KEY, Principal
from app.validation import Invalid, Problems

O = m.Opportunity  # noqa: E741


class Retry(Exception):
    """A concurrent writer moved a row between our read and our lock: run the mutation again."""


def principal(session: AsyncSession) -> Principal:
    who = session.info.get(SESSION_KEY)
    if not isinstance(who, Principal):
        raise RuntimeError("writes need a session opened for a principal")
    return who


def now() -> datetime:
    return utcnow()


def camel(key: str) -> str:
    """A column name as the schema spells it in input paths: `item_name` → `itemName`."""
    head, *rest = key.split("_")
    return head + "".join(w.capitalize() if w else "_" for w in rest)


@cache
def cols(model: Any) -> tuple[Any, ...]:
    """Every column as ORM attributes, so the tenancy hook scopes the statement."""
    return tuple(getattr(model, c.key) for c in model.__table__.columns)


async def fetch(session: AsyncSession, model: Any, pk: int) -> Any:
    """One visible row as a mapping, or None."""
    row = (await session.execute(select(*cols(model)).where(model.id == pk))).first()
    return None if row is None else row._mapping


async def fetch_many(session: AsyncSession, model: Any, pks: Sequence[int]) -> dict[int, Any]:
    """The visible rows of these primary keys, by key, in one SELECT (none for no keys)."""
    if not pks:
        return {}
    rows = await session.execute(select(*cols(model)).where(model.id.in_(sorted(set(pks)))))
    return {int(r.id): r._mapping for r in rows}


async def fetch_all(session: AsyncSession, model: Any, where: Any, *order: Any) -> list[Any]:
    keys = [getattr(model, c.key) for c in model.__table__.primary_key.columns]
    rows = await session.execute(select(*cols(model)).where(where).order_by(*order, *keys))
    return [r._mapping for r in rows]


def _uniform(model: Any, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every row with the same keys (a key a row lacks takes the column's default): SQLAlchemy
    batches only parameter sets of one shape, and starts a new statement at each change."""
    keys = list(dict.fromkeys(k for row in rows for k in row))
    table = model.__table__
    fill: dict[str, Any] = {}
    for k in keys:
        default = table.c[k].default
        if default is None or not (default.is_scalar or default.is_callable):
            fill[k] = None
        else:  # a callable default (a timestamp) is wrapped to take the execution context
            fill[k] = default.arg if default.is_scalar else default.arg(None)
    return [row if len(row) == len(keys) else {**fill, **row} for row in rows]


# render_nulls: the ORM would otherwise leave a None out of its row, changing the row's shape
_BULK = {"render_nulls": True}


async def insert_rows(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT many rows in one statement (a few for thousands): no RETURNING, no statement per row."""
    if rows:
        await session.execute(insert(model), _uniform(model, rows), execution_options=_BULK)


async def insert_returning_ids(
    session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """INSERT many rows, multi-row VALUES, and return their ids in the rows' order.

    PostgreSQL sorts RETURNING by parameter order (SQLAlchemy's sentinel); SQLite cannot, and
    there it is the ids that give the order: its rowids are handed out one after another as a
    statement inserts its VALUES in order, and its writers are serialised.
    """
    if not rows:
        return []
    ordered = session.get_bind().dialect.name == "postgresql"
    stmt = insert(model).returning(model.id, sort_by_parameter_order=ordered)
    ids = [
        int(pk)
        for pk in (await session.execute(stmt, _uniform(model, rows), execution_options=_BULK)).scalars()
    ]
    return ids if ordered else sorted(ids)


async def write(session: AsyncSession, model: Any, pk: Any, values: dict[str, Any]) -> None:
    """UPDATE one row by primary key (scoped by the tenancy hook)."""
    if values:
        stmt = update(model).where(model.id == pk).values(**values)
        await session.execute(stmt.execution_options(synchronize_session=False))


# Bound parameters per UPDATE of many rows (two per row and column): under SQLite's and
# asyncpg's limit of 32,767, with room for the id list.
_PARAMS = 30_000


async def write_many(session: AsyncSession, model: Any, values: dict[int, dict[str, Any]]) -> None:
    """UPDATE many rows by primary key, each with its own values, in one statement (a few for
    thousands of values): each column set by a CASE on the id, left as it is where a row does
    not change it. One row is the plain UPDATE of `write`."""
    values = {pk: v for pk, v in values.items() if v}
    if len(values) <= 1:
        for pk, v in values.items():
            await write(session, model, pk, v)
        return
    chunks: list[dict[int, dict[str, Any]]] = [{}]
    params = 0
    for pk, v in values.items():
        if params + 2 * len(v) + 1 > _PARAMS:
            chunks.append({})
            params = 0
        chunks[-1][pk] = v
        params += 2 * len(v) + 1
    table = model.__table__
    for chunk in chunks:
        columns = sorted({c for row in chunk.values() for c in row})
        sets = {
            c: case(
                {p: literal(row[c], table.c[c].type) for p, row in chunk.items() if c in row},
                value=model.id,
                else_=getattr(model, c),
            )
            for c in columns
        }
        stmt = update(model).where(model.id.in_(list(chunk))).values(**sets)
        await session.execute(stmt.execution_options(synchronize_session=False))


async def set_positions(
    session: AsyncSession, model: Any, order: Sequence[int], current: dict[int, Any]
) -> None:
    """Give the rows `order` positions 1..n in one UPDATE, touching only rows that move."""
    moved = {pk: i for i, pk in enumerate(order, 1) if current.get(pk) != i}
    if moved:
        stmt = update(model).where(model.id.in_(list(moved))).values(position=case(moved, value=model.id))
        await session.execute(stmt.execution_options(synchronize_session=False))


async def lock_stages(session: AsyncSession, stage_ids: Sequence[int | None]) -> None:
    """Take the board columns' locks, in id order so two movers never wait on each other in a cycle.

    A stage row is the mutex of its column: whoever changes which cards are in a column
    or their positions holds it first, before any opportunity row lock. FOR NO KEY UPDATE
    excludes the other column writers but not the KEY SHARE locks that foreign key checks
    take, so inserting a row that points at the stage never waits on it. (SQLite ignores
    FOR UPDATE; BEGIN IMMEDIATE already serialises its writers.)
    """
    ids = sorted({s for s in stage_ids if s is not None})
    if ids:
        await session.execute(
            select(m.Stage.id).where(m.Stage.id.in_(ids)).order_by(m.Stage.id).with_for_update(key_share=True)
        )


async def lock_row(session: AsyncSession, model: Any, pk: int | None) -> None:
    """Hold a parent row's lock while renumbering its ordered children (a pipeline's stages,
    an organization's custom fields), so two concurrent writers cannot hand out one position twice.

    FOR NO KEY UPDATE, not FOR UPDATE: the children's own INSERTs hold KEY SHARE on the
    parent (foreign key checks), and two writers each holding that while waiting for
    FOR UPDATE would deadlock.
    """
    if pk is not None:
        await session.execute(select(model.id).where(model.id == pk).with_for_update(key_share=True))


async def touch(
    session: AsyncSession,
    opportunity_id: int,
    expected: int | None = None,
    *,
    id_path: str = "id",
    lists: tuple[str, ...] = (),
) -> Any:
    """Bump the deal's version by one and stamp who changed it; return the fresh row.

    Every change of a deal or of what hangs off it starts here, so this is where the change
    log (app/changes) learns of it: the row before, and the list fields (`lists`, by their
    schema names) the mutation is about to change, read now while they are as they were.

    The UPDATE takes the row lock, so the row read after it is the one this transaction
    changes. With `expected`, it is a compare-and-set: of two writers holding the same
    version, the second finds no row to update and gets a CONFLICT.
    """
    who = principal(session)
    stmt = update(O).where(O.id == opportunity_id)
    if expected is not None:
        stmt = stmt.where(O.version == expected)
    # one bump per deal per transaction: a card a board shift already bumped in this
    # transaction (a bulk move's later deal) keeps that one, and its one change (app/changes)
    bump = 0 if opportunity_id in record.changing(session) else 1
    stmt = stmt.values(version=O.version + bump, updated_at=now(), updated_by_id=who.user_id)
    # RETURNING hands back the row as this UPDATE left it: one statement, not two
    result = await session.execute(stmt.returning(*cols(O)).execution_options(synchronize_session=False))
    row = result.first()
    if row is None:
        await _missing_or_stale(session, opportunity_id, expected, id_path)
    await record.touch(session, row._mapping, lists)
    return row._mapping


async def touch_many(
    session: AsyncSession,
    ids: Sequence[int],
    id_paths: Sequence[Sequence[str]],
    lists: Mapping[int, tuple[str, ...]] | None = None,
) -> dict[int, Any]:
    """`touch` for many deals in one UPDATE … RETURNING: each bumped once in the transaction and
    noted for the change log (with the list fields `lists` names for it, read in one statement
    per field); NOT_FOUND at its `id_paths` entry for each deal not there."""
    who = principal(session)
    bumped = sorted(record.changing(session) & set(ids))  # a card a shift already bumped keeps that bump
    bump = case((O.id.in_(bumped), 0), else_=1) if bumped else 1
    stmt = (
        update(O)
        .where(O.id.in_(list(ids)))
        .values(version=O.version + bump, updated_at=now(), updated_by_id=who.user_id)
    )
    result = await session.execute(stmt.returning(*cols(O)).execution_options(synchronize_session=False))
    rows = {int(r.id): r._mapping for r in result}
    problems = Problems()
    for pk, path in zip(ids, id_paths, strict=True):
        if pk not in rows:
            problems.add(path, ErrorCode.NOT_FOUND, "no such opportunity")
    problems.raise_if_any()
    await record.touch_many(session, [rows[pk] for pk in ids], lists or {})
    return rows


async def _missing_or_stale(session: AsyncSession, pk: int, expected: int | None, id_path: str) -> None:
    current = await fetch(session, O, pk)
    problems = Problems()
    if current is None:
        problems.add([id_path], ErrorCode.NOT_FOUND, "no such opportunity")
    else:
        problems.add(
            ["expectedVersion"],
            ErrorCode.CONFLICT,
            f"the opportunity changed: it is at version {current['version']}, not {expected}; "
            "reload it and apply your change again",
            expected,
        )
    raise Invalid(problems.items)


def fail(path: Sequence[str], code: ErrorCode, message: str, value: Any = None) -> Invalid:
    problems = Problems()
    problems.add(path, code, message, value)
    return Invalid(problems.items)
