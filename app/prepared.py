"""Prepared reads: the loaders' STABLE statements run on asyncpg without SQLAlchemy's per-execution work.

A loader batch (by id, children, links, values) is one statement object built once per
process, with its keys as the only parameter. Through the ORM session every execution of
it still pays for the tenancy options, the compiled-cache lookup, an execution context,
parameter construction, the ORM result and a greenlet switch: about 0.6 ms of CPU per
statement, more than asyncpg takes to run it (bench/results-reads.md).

Here each such statement is compiled once per principal (`Principal.prepared`, with the
principal's tenancy and visibility criteria applied by `Principal.scoped`, exactly as the
session hook applies them), into its SQL, its positional parameter names with the
principal's values fixed, and its result columns. An execution then fills in the keys and
runs the SQL on the request's own connection through SQLAlchemy's asyncpg adapter, the way
its cursor does: under the adapter's mutex, inside the snapshot transaction the adapter
started (or starting it), on the adapter's prepared-statement cache, with asyncpg errors
translated into the same `DBAPIError`s. Statement events still fire, so statement counts,
metrics and OpenTelemetry spans see every statement. Result values go through the column
types' own result processors, chosen from the types PostgreSQL reports for the prepared
statement, so rows hold the same values as SQLAlchemy's.

Only SELECTs that the tenancy hook would scope anyway come here, on PostgreSQL with
asyncpg; everything else takes the session. tests/test_prepared.py compares both paths'
rows for every loader statement kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from types import SimpleNamespace
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.tenancy import STABLE, Principal


def is_prepared(statement: Any) -> bool:
    """Whether `statement` may take this path: one of the process's STABLE statements."""
    return bool(statement.get_execution_options().get(STABLE))


class Prepared:
    """One STABLE statement compiled for one principal: SQL, parameters, result shape."""

    __slots__ = ("binds", "callables", "fixed", "names", "processors", "row", "runnable", "sql", "types")

    def __init__(self, scoped: Any, dialect: Any) -> None:
        compiled = scoped.compile(dialect=dialect)
        # SQL rendered per execution (an expanding IN, a literal-executed value) cannot be
        # prepared once: such a statement takes the session (`Database` checks `runnable`)
        self.runnable = not (compiled.post_compile_params or compiled.literal_execute_params)
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        # the values the principal's criteria bound (organization, user); the caller's
        # parameters (the batch's keys) are left to each execution
        self.fixed: dict[str, Any] = compiled.construct_params(_check=False)
        # ... and values read when the statement runs (`bindparam(callable_=today)`): each time
        self.callables: dict[str, Any] = {
            name: bind.callable for bind, name in compiled.bind_names.items() if bind.callable is not None
        }
        self.binds: dict[str, Any] = dict(compiled._bind_processors)
        columns = compiled._result_columns
        self.types = [column[3] for column in columns]
        self.row = _row_class(tuple(column[0] for column in columns))
        self.processors: list[Any] | None = None  # chosen at the first execution (see `run`)

    def arguments(self, params: dict[str, Any] | None) -> list[Any]:
        given = params or {}
        fixed, binds, callables = self.fixed, self.binds, self.callables
        out = []
        for name in self.names:
            if name in given:
                value = given[name]
            elif name in callables:
                value = callables[name]()
            else:
                value = fixed[name]
            process = binds.get(name)
            out.append(value if process is None or value is None else process(value))
        return out

    def rows(self, records: Sequence[Any], attributes: Sequence[Any], dialect: Any) -> list[Any]:
        processors = self.processors
        if processors is None:
            # as SQLAlchemy chooses them: by column type and the type PostgreSQL reports
            processors = self.processors = [
                t._cached_result_processor(dialect, a.type.oid)
                for t, a in zip(self.types, attributes, strict=True)
            ]
        make = self.row
        active = [(i, p) for i, p in enumerate(processors) if p is not None]
        if not active:
            return [make(r) for r in records]
        out = []
        for record in records:
            values = list(record)
            for i, process in active:
                value = values[i]
                if value is not None:
                    values[i] = process(value)
            out.append(make(values))
        return out


def _asdict(row: Any) -> dict[str, Any]:
    return dict(zip(row._fields, row, strict=True))


def _row_class(fields: tuple[str, ...]) -> type:
    """A tuple read like SQLAlchemy's Row: by index, by attribute, `_fields`, `_asdict`, `_mapping`."""
    namespace: dict[str, Any] = {
        "__slots__": (),
        "_fields": fields,
        "_asdict": _asdict,
        "_mapping": property(_asdict),
    }
    for i, name in enumerate(fields):
        if name.isidentifier() and name not in namespace:
            namespace[name] = property(itemgetter(i))
    return type("PreparedRow", (tuple,), namespace)


def prepare(principal: Principal, statement: Any, dialect: Any) -> Prepared:
    """`statement` compiled for `principal` (once per principal, statement and trash state)."""
    return principal.prepared(statement, dialect.name, lambda scoped: Prepared(scoped, dialect))


async def read(connection: AsyncConnection, prepared: Prepared, params: dict[str, Any] | None) -> list[Any]:
    """The rows of a statement `prepare` made (and found `runnable`), on `connection`."""
    sync = connection.sync_connection
    assert sync is not None
    dialect: Any = sync.dialect  # the asyncpg dialect (its schema-cache timestamp is its own)
    args = prepared.arguments(params)
    sql = prepared.sql
    context = SimpleNamespace()  # what listeners may keep between before and after
    dispatch = sync.dispatch
    if sync._has_events or sync.engine._has_events:
        for listener in dispatch.before_cursor_execute:
            sql, args = listener(sync, None, sql, args, context, False)
    try:
        fairy = await connection.get_raw_connection()
        adapter: Any = fairy.dbapi_connection
        async with adapter._execute_mutex:
            try:
                if adapter._transaction is None:
                    await adapter._start_transaction()
                statement_, attributes = await adapter._prepare(sql, dialect._invalidate_schema_cache_asof)
                records = await statement_.fetch(*args)
            except Exception as error:
                translated = _translated(adapter, error, sql, args, dialect)
                if translated.connection_invalidated:
                    await connection.invalidate()  # as SQLAlchemy does: never back into the pool
                raise translated from error
    finally:
        if sync._has_events or sync.engine._has_events:
            for listener in dispatch.after_cursor_execute:
                listener(sync, None, sql, args, context, False)
    return prepared.rows(records, attributes, dialect)


def _translated(adapter: Any, error: Exception, sql: str, args: list[Any], dialect: Any) -> DBAPIError:
    """asyncpg's error as SQLAlchemy raises it from a cursor: the DBAPI error, in a DBAPIError."""
    try:
        adapter._handle_exception(error)  # raises the adapter's DBAPI-style error
    except dialect.loaded_dbapi.Error as dbapi_error:
        disconnect = dialect.is_disconnect(dbapi_error, adapter, None)
        return DBAPIError.instance(
            sql,
            args,
            dbapi_error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=disconnect,
            dialect=dialect,
        )
    raise AssertionError("the asyncpg adapter did not raise")  # pragma: no cover
