"""Per-request dataloaders: a few generic batchers that serve every relation of the schema.

Each loader is made the first time a request needs it (inside the running event
loop, as aiodataloader requires) and lives as long as the request. A batch is
one statement: `WHERE key IN (…)` for a relation, a window function for a page
of children per parent. Rows come back unordered and are mapped back by key.
Loaders are keyed by names: an entity's (`by_id`) or a declared relation's
(`Opportunity.items`), so two fields that read the same relation share one loader.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Sequence
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import Integer, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from app import metrics, query
from app.db import Reads
from app.graphql import reads, registry
from app.graphql.common import Connection, PageInfo
from app.tenancy import STABLE, TRASH, TRASHED

# A page may hold 1000 rows; a batch of that size keeps the statement count constant.
MAX_BATCH = 1000


def keys_in(expr: Any, keys: Sequence[int], dialect: str) -> Any:
    # On PostgreSQL one array parameter keeps a single prepared statement for any batch size.
    if dialect == "postgresql":
        return expr == any_(bindparam("keys", list(keys), type_=ARRAY(Integer)))
    return expr.in_(list(keys))


def keys_param(expr: Any, dialect: str) -> Any:
    """`keys_in` with the keys left to the execution (`{"keys": [...]}`), for a statement built once."""
    if dialect == "postgresql":
        return expr == any_(bindparam("keys", type_=ARRAY(Integer)))
    return expr.in_(bindparam("keys", expanding=True))


# The statements of the key-only batches (by id, children, links, values), built once per process:
# they depend on the relation, the columns an operation reads (app/graphql/reads.py) and the
# dialect only, and building one costs more than running it through SQLAlchemy's compiled cache.
# The tenancy hook scopes each execution as before. Bounded: column sets come from documents.
_STATEMENTS: OrderedDict[Hashable, Any] = OrderedDict()
STATEMENTS_KEPT = 1024


def kept_statement(key: Hashable, build: Callable[[], Any]) -> Any:
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build().execution_options(**{STABLE: True})
        if len(_STATEMENTS) > STATEMENTS_KEPT:
            _STATEMENTS.popitem(last=False)
    else:
        _STATEMENTS.move_to_end(key)
    return stmt


_MISSING: Any = object()
# running `fetch_many` batches, held so a task is not collected before it ends
_BULK: set[asyncio.Task[None]] = set()


class Loader(DataLoader):
    """aiodataloader's loader, with the values it has loaded readable without a future."""

    def __init__(self, fetch: Callable[[list[Any]], Coroutine[Any, Any, list[Any]]], **kwargs: Any) -> None:
        # `fetch` answers a batch; `batch_load_fn` below records its answers. A closure that
        # recorded them would point back at its loader: a cycle, freed only by the cyclic GC.
        self._fetch = fetch
        super().__init__(**kwargs)
        # key -> value for every key whose batch (or prime) has answered: what `get` returns
        self.values: dict[Any, Any] = {}
        # the keys `fetch_many` gathered this tick, and the future their one batch settles
        self._bulk: tuple[dict[Any, None], asyncio.Future[None]] | None = None

    async def batch_load_fn(self, keys: list[Any]) -> list[Any]:
        values = await self._fetch(keys)
        self.answered(keys, values)
        return values

    def get(self, key: Any) -> Any:
        """The value when this request has loaded it already, else an awaitable of it.

        The prefetch plan loads what a query selects before graphql-core descends, so
        relation fields return plain objects and graphql-core completes them without
        an awaitable each; anything not loaded yet still goes through the batch.
        """
        value = self.values.get(key, _MISSING)  # one lookup, not a future's four calls
        if value is not _MISSING:
            return value
        return self.load(key)

    def load(self, key: Any) -> asyncio.Future[Any]:
        value = self.values.get(key, _MISSING)
        if value is not _MISSING:  # loaded by a batch or `fetch_many`: no batch again
            future = self.loop.create_future()
            future.set_result(value)
            return future
        return super().load(key)

    def fetch_many(self, keys: Sequence[Any]) -> Awaitable[list[Any]]:
        """The values of many keys, for the prefetch plan: one future per call, not per key.

        `load_many` makes a future per key and gathers them (on a 1000-row page, thousands of
        futures and callbacks). Here the keys not loaded yet join one pending batch per loader
        and tick, so relations of one level still share one statement per loader, and the
        caller waits for that batch once. A key whose value is an error reads as None here; its
        field loads it again through `load` and gets the error at its own path.
        """
        known = self.values
        missing = [k for k in dict.fromkeys(keys) if k not in known]
        if not missing:
            done = self.loop.create_future()
            done.set_result([known.get(k) for k in keys])
            return done
        if self._bulk is None:
            self._bulk = ({}, self.loop.create_future())
            self.loop.call_soon(self._dispatch_bulk)
        pending, future = self._bulk
        pending.update(dict.fromkeys(missing))
        return self._after(future, keys)

    async def _after(self, future: asyncio.Future[None], keys: Sequence[Any]) -> list[Any]:
        # shielded: the batch is shared, and one waiter cancelled must not cancel it for the rest
        await asyncio.shield(future)
        known = self.values
        return [known.get(k) for k in keys]

    def _dispatch_bulk(self) -> None:
        assert self._bulk is not None
        pending, future = self._bulk
        self._bulk = None
        task = self.loop.create_task(self._run_bulk(list(pending), future))
        _BULK.add(task)
        task.add_done_callback(_BULK.discard)

    async def _run_bulk(self, keys: list[Any], future: asyncio.Future[None]) -> None:
        try:
            size = self.max_batch_size or len(keys)
            for at in range(0, len(keys), size):
                await self.batch_load_fn(keys[at : at + size])  # `answered` stores the values
        except Exception as error:
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved here: a waiter may be gone (its request over)
        else:
            if not future.done():
                future.set_result(None)

    def answered(self, keys: list[Any], values: list[Any]) -> None:
        """A batch answered: its values are known (errors stay with their futures)."""
        if len(keys) == len(values):
            known = self.values
            for key, value in zip(keys, values, strict=True):
                if not isinstance(value, BaseException):
                    known[key] = value

    def known(self, key: Any, value: Any) -> None:
        """`value` is what `key` reads, found by another statement (a root page's join): no
        future is made for it (`get`, `load` and `fetch_many` read `values` first)."""
        self.values.setdefault(key, value)

    def prime(self, key: Any, value: Any) -> Loader:
        if key not in self._cache and not isinstance(value, BaseException):
            self.values[key] = value
        super().prime(key, value)
        return self

    def clear(self, key: Any) -> Loader:
        self.values.pop(key, None)
        super().clear(key)
        return self

    def clear_all(self) -> Loader:
        self.values.clear()
        super().clear_all()
        return self


class Loaders:
    def __init__(self, db: Reads, *, default_page_size: int, max_page_size: int) -> None:
        self.db = db
        self.default_page_size = default_page_size
        self.max_page_size = max_page_size
        self._loaders: dict[Hashable, Loader] = {}
        self._by_target: dict[Any, Loader] = {}  # `by_id`'s loaders by what callers name them with
        # ... and the operation's column plan (reads.current) they were made for
        self._by_target_reads: Any = None
        self._trash: Loaders | None = None

    def _get(self, key: Hashable, batch: Callable[[list[Any]], Coroutine[Any, Any, list[Any]]]) -> Loader:
        loader = self._loaders.get(key)
        if loader is None:
            loader = self._loaders[key] = Loader(_measured(key, batch), max_batch_size=MAX_BATCH)
        return loader

    def clear(self) -> None:
        """Forget everything loaded so far (after a mutation changed it, or at the request's end).

        Each loader is emptied, not only dropped: whatever still holds one (graphql-core's
        execution context, cyclic garbage after the response, holds this request's context)
        would keep every row it loaded alive until the cyclic GC (measured: 16k objects of a
        1000-row page left for the collector, which then walked them in every young collection)."""
        for loader in self._loaders.values():
            loader.clear_all()
        if self._trash is not None:
            self._trash.clear()
        self._loaders.clear()
        self._by_target.clear()
        self._trash = None

    def in_trash(self) -> Loaders:
        """Loaders of their own whose statements see the trash: the children of trashed deals
        (`trashedOpportunities { nodes { items } }`), which the live loaders never see."""
        if self._trash is None:
            self._trash = Loaders(
                _InTrash(self), default_page_size=self.default_page_size, max_page_size=self.max_page_size
            )
        return self._trash

    def by_id(self, target: registry.Target | registry.Entity) -> Loader:
        """An entity (or its GraphQL type) by primary key, or None when not visible."""
        plan = reads.current.get()
        if plan is not self._by_target_reads:  # another operation of a batch
            self._by_target, self._by_target_reads = {}, plan
        loader = self._by_target.get(target)  # once per relation and row: one lookup
        if loader is not None:
            return loader
        loader = self._by_target[target] = self._by_id(registry.get(target))
        return loader

    def _by_id(self, e: registry.Entity) -> Loader:
        columns, names = reads.columns(e)
        loader = self._loaders.get(("id", e.name, names))
        if loader is not None:
            return loader

        dialect = self.db.dialect
        stmt = kept_statement(
            ("id", e.name, names, dialect), lambda: select(*columns).where(keys_param(e.model.id, dialect))
        )

        async def batch(keys: list[int]) -> list[Any]:
            rows = await self.db.rows(stmt, {"keys": keys})
            found = {row.id: obj for row, obj in zip(rows, built(e, rows), strict=True)}
            return [found.get(k) for k in keys]

        return self._get(("id", e.name, names), batch)

    def children(self, key: str, e: registry.Entity, column: Any, order: Sequence[Any]) -> Loader:
        """All rows of `e` whose `column` is the key, in `order` (items, stages, values)."""
        columns, names = reads.columns(e)
        loader = self._loaders.get((key, names))
        if loader is not None:
            return loader

        dialect = self.db.dialect
        stmt = kept_statement(
            ("children", key, names, dialect),
            lambda: (
                select(*columns, column.label("_parent"))
                .where(keys_param(column, dialect))
                .order_by(*order, *e.primary_key)
            ),
        )

        async def batch(keys: list[int]) -> list[list[Any]]:
            return self._group(keys, await self.db.rows(stmt, {"keys": keys}), e)

        return self._get((key, names), batch)

    def through(self, key: str, e: registry.Entity, link_parent: Any, link_target: Any, order: Any) -> Loader:
        """Rows of `e` linked to the key through a link table (participants, access list …)."""
        columns, names = reads.columns(e)
        loader = self._loaders.get((key, names))
        if loader is not None:
            return loader

        dialect = self.db.dialect
        stmt = kept_statement(
            ("through", key, names, dialect),
            lambda: (
                select(*columns, link_parent.label("_parent"))
                .join(link_target.class_, link_target == e.model.id)
                .where(keys_param(link_parent, dialect))
                .order_by(order, e.model.id)
            ),
        )

        async def batch(keys: list[int]) -> list[list[Any]]:
            return self._group(keys, await self.db.rows(stmt, {"keys": keys}), e)

        return self._get((key, names), batch)

    def values(self, key: str, value: Any, parent: Any, order: Any) -> Loader:
        """Plain values (tags) per key."""
        loader = self._loaders.get(key)
        if loader is not None:
            return loader

        dialect = self.db.dialect
        stmt = kept_statement(
            ("values", key, dialect),
            lambda: select(value, parent.label("_parent")).where(keys_param(parent, dialect)).order_by(order),
        )

        async def batch(keys: list[int]) -> list[list[Any]]:
            return self._group(keys, await self.db.rows(stmt, {"keys": keys}), None)

        return self._get(key, batch)

    def page(
        self,
        key: str,
        e: registry.Entity,
        partition: Any,
        where: Any,
        keys: list[query.OrderKey],
        args: query.PageArgs,
        cache_key: Hashable,
        *,
        selection: Hashable = None,
        after: Callable[[list[Connection[Any]]], Awaitable[None]] | None = None,
    ) -> Loader:
        """One page of `e` per parent (a nested connection), one statement for all parents.

        `after` runs once per batch on all its pages (the prefetch plan below them), so every
        parent's page is ready at the same moment; `selection` names what it plans for.
        """
        loader = self._loaders.get(("page", key, cache_key, selection))
        if loader is not None:
            return loader
        plan = query.plan_page(args, keys, default_size=self.default_page_size, max_size=self.max_page_size)

        async def batch(parents: list[int]) -> list[Connection[Any]]:
            base = select(*e.columns).where(where, keys_in(partition, parents, self.db.dialect))
            rows = await self.db.rows(query.paged_per_parent(base, partition, plan))
            grouped = self._group(parents, rows, False)
            counter = self.count(key, e.model, partition, where, cache_key)
            pages = [
                build_connection(e, query.read_page(group, plan, keys), _count_of(counter, parent))
                for parent, group in zip(parents, grouped, strict=True)
            ]
            if after is not None:
                await after(pages)
            return pages

        return self._get(("page", key, cache_key, selection), batch)

    def count(self, key: str, model: Any, partition: Any, where: Any, cache_key: Hashable) -> Loader:
        """How many rows of `model` match `where` per parent."""

        async def batch(parents: list[int]) -> list[int]:
            stmt = (
                select(partition.label("_parent"), func.count())
                .select_from(model)
                .where(where, keys_in(partition, parents, self.db.dialect))
                .group_by(partition)
            )
            counts = {row[0]: row[1] for row in await self.db.rows(stmt)}
            return [counts.get(p, 0) for p in parents]

        return self._get(("count", key, cache_key), batch)

    @staticmethod
    def _group(keys: list[int], rows: Sequence[Any], build: registry.Entity | bool | None) -> list[list[Any]]:
        """Rows by their `_parent` column, in `keys` order: built as `build`'s objects, kept as
        rows (False), or their first column (None: plain values)."""
        grouped: dict[int, list[Any]] = defaultdict(list)
        if not rows:
            return [[] for _ in keys]
        fields = rows[0]._fields
        at = fields.index("_parent")  # once per batch: `row._mapping[...]` per row costs more
        if isinstance(build, registry.Entity):
            from_row = _builder(build)
            for row in rows:
                grouped[row[at]].append(from_row(row, fields))
        else:
            for row in rows:
                grouped[row[at]].append(row if build is False else row[0])
        return [grouped.get(k, []) for k in keys]


def _measured(
    key: Hashable, batch: Callable[[list[Any]], Coroutine[Any, Any, list[Any]]]
) -> Callable[[list[Any]], Coroutine[Any, Any, list[Any]]]:
    """The batch function, reporting its size to og_loader_batch_size (once per batch, not per key)."""
    # the loader's kind and relation, never its arguments: bounded by the schema
    # (nor the columns it selects: a loader's key ends with them, app/graphql/reads.py)
    parts = (
        [part for part in key[:2] if part is not None and not isinstance(part, frozenset)]
        if isinstance(key, tuple)
        else [key]
    )
    name = ":".join(str(part) for part in parts)

    async def measured(keys: list[Any]) -> list[Any]:
        metrics.batch_loaded(name, len(keys))
        return await batch(keys)

    return measured


def _count_of(counter: Loader, parent: int) -> Callable[[], Awaitable[int]]:
    return lambda: counter.load(parent)


def built(e: registry.Entity, rows: Sequence[Any]) -> list[Any]:
    """The objects of `e` for `rows`, their column names read once (see Node.from_row)."""
    if not rows:
        return []
    fields, from_row = rows[0]._fields, _builder(e)
    return [from_row(row, fields) for row in rows]


def build_one(e: registry.Entity, values: Sequence[Any], names: Sequence[str]) -> Any:
    """The object of `e` for one row's `values` of the columns `names`."""
    return _builder(e)(values, names)


_BUILDERS: dict[type, Callable[[Any, Sequence[str]], Any]] = {}


def _rows_only(from_row: Callable[[Any], Any]) -> Callable[[Any, Sequence[str]], Any]:
    def build(row: Any, _fields: Sequence[str]) -> Any:
        return from_row(row)

    return build


def _builder(e: registry.Entity) -> Callable[[Any, Sequence[str]], Any]:
    """`e`'s row -> object: its `from_row(row, fields)` when it takes the batch's column names
    (Node, CustomFieldValue), else `from_row(row)` (types with a `from_row` of their own)."""
    made = _BUILDERS.get(e.type)
    if made is None:
        from_row = e.type.from_row  # type: ignore[attr-defined]
        made = from_row if "fields" in inspect.signature(from_row).parameters else _rows_only(from_row)
        _BUILDERS[e.type] = made
    return made


def build_connection(
    e: registry.Entity, page: query.PageResult, count: Callable[[], Awaitable[int]]
) -> Connection[Any]:
    info = PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=page.start_cursor,
        end_cursor=page.end_cursor,
    )
    return Connection.lazy(built(e, page.rows), page.cursor, info, count)


class _InTrash:
    """Its owner's current database (a mutation swaps it), every statement pointed at the trash."""

    def __init__(self, owner: Loaders) -> None:
        self._owner = owner

    @property
    def dialect(self) -> str:
        return self._owner.db.dialect

    async def rows(self, stmt: Any, params: dict[str, Any] | None = None) -> Sequence[Any]:
        return await self._owner.db.rows(_trashed(stmt), params)

    async def scalar(self, stmt: Any) -> Any:
        return await self._owner.db.scalar(_trashed(stmt))


# the trash's copy of each STABLE statement, itself made once (so it stays STABLE: one object)
_TRASHED: dict[int, tuple[Any, Any]] = {}


def _trashed(stmt: Any) -> Any:
    if not stmt.get_execution_options().get(STABLE):
        return stmt.execution_options(**{TRASH: TRASHED})
    made = _TRASHED.get(id(stmt))
    if made is None or made[0] is not stmt:
        made = _TRASHED[id(stmt)] = (stmt, stmt.execution_options(**{TRASH: TRASHED}))
    return made[1]
