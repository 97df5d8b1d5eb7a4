"""Per-request dataloaders: a few generic batchers that serve every relation of the schema.

Each loader is made the first time a request needs it (inside the running event
loop, as aiodataloader requires) and lives as long as the request. A batch is
one statement: `WHERE key IN (…)` for a relation, a window function for a page
of children per parent. Rows come back unordered and are mapped back by key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from functools import cache
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import Integer, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from app import query
from app.db import Database
from app.graphql.common import Connection, Edge, PageInfo

# A page may hold 1000 rows; a batch of that size keeps the statement count constant.
MAX_BATCH = 1000


@cache
def columns(model: Any) -> tuple[Any, ...]:
    """Every column of a model as ORM attributes, so the tenancy hook sees the entity."""
    return tuple(getattr(model, c.key) for c in model.__table__.columns)


@cache
def primary_key(model: Any) -> tuple[Any, ...]:
    """The primary key columns as ORM attributes: a stable tie-breaker for any order."""
    return tuple(getattr(model, c.key) for c in model.__table__.primary_key.columns)


def keys_in(expr: Any, keys: Sequence[int], dialect: str) -> Any:
    # On PostgreSQL one array parameter keeps a single prepared statement for any batch size.
    if dialect == "postgresql":
        return expr == any_(bindparam("keys", list(keys), type_=ARRAY(Integer)))
    return expr.in_(list(keys))


class Loaders:
    def __init__(self, db: Database, *, default_page_size: int, max_page_size: int) -> None:
        self.db = db
        self.default_page_size = default_page_size
        self.max_page_size = max_page_size
        self._loaders: dict[Hashable, DataLoader] = {}

    def _get(self, key: Hashable, batch: Callable[[list[Any]], Awaitable[list[Any]]]) -> DataLoader:
        loader = self._loaders.get(key)
        if loader is None:
            loader = self._loaders[key] = DataLoader(batch, max_batch_size=MAX_BATCH)
        return loader

    def clear(self) -> None:
        """Forget everything loaded so far (after a mutation changed it)."""
        self._loaders.clear()

    def by_id(self, t: Any) -> DataLoader:
        """`t` (a GraphQL type with `__model__`) by primary key, or None when not visible."""
        model = t.__model__

        async def batch(keys: list[int]) -> list[Any]:
            stmt = select(*columns(model)).where(keys_in(model.id, keys, self.db.dialect))
            found = {row.id: t.from_row(row) for row in await self.db.rows(stmt)}
            return [found.get(k) for k in keys]

        return self._get(("id", t), batch)

    # The relation loaders below are keyed by `key`, a stable name for the relation: computing
    # a key from the SQL (str() compiles it) would cost more than the load, once per parent.

    def children(self, t: Any, column: Any, *order: Any, key: Hashable) -> DataLoader:
        """All rows of `t` whose `column` is the key, in `order` (items, stages, values)."""
        model = t.__model__

        async def batch(keys: list[int]) -> list[list[Any]]:
            stmt = select(*columns(model), column.label("_parent"))
            stmt = stmt.where(keys_in(column, keys, self.db.dialect)).order_by(*order, *primary_key(model))
            return self._group(keys, await self.db.rows(stmt), t.from_row)

        return self._get(("children", key), batch)

    def through(self, t: Any, link_parent: Any, link_target: Any, order: Any, *, key: Hashable) -> DataLoader:
        """Rows of `t` linked to the key through a link table (participants, access list …)."""
        model = t.__model__

        async def batch(keys: list[int]) -> list[list[Any]]:
            stmt = (
                select(*columns(model), link_parent.label("_parent"))
                .join(link_target.class_, link_target == model.id)
                .where(keys_in(link_parent, keys, self.db.dialect))
                .order_by(order, model.id)
            )
            return self._group(keys, await self.db.rows(stmt), t.from_row)

        return self._get(("through", key), batch)

    def values(self, value: Any, parent: Any, order: Any, *, key: Hashable) -> DataLoader:
        """Plain values (tags) per key."""

        async def batch(keys: list[int]) -> list[list[Any]]:
            stmt = select(value, parent.label("_parent"))
            stmt = stmt.where(keys_in(parent, keys, self.db.dialect)).order_by(order)
            return self._group(keys, await self.db.rows(stmt), lambda r: r[0])

        return self._get(("values", key), batch)

    def page(
        self,
        t: Any,
        partition: Any,
        where: Any,
        keys: list[query.OrderKey],
        args: query.PageArgs,
        cache_key: Hashable,
    ) -> DataLoader:
        """One page of `t` per parent (a nested connection), one statement for all parents."""
        model = t.__model__
        plan = query.plan_page(args, keys, default_size=self.default_page_size, max_size=self.max_page_size)

        async def batch(parents: list[int]) -> list[Connection[Any]]:
            base = select(*columns(model)).where(where, keys_in(partition, parents, self.db.dialect))
            rows = await self.db.rows(query.paged_per_parent(base, partition, plan))
            grouped = self._group(parents, rows, lambda r: r)
            return [
                self._connection(t, query.read_page(group, plan, keys), parent, partition, where, cache_key)
                for parent, group in zip(parents, grouped, strict=True)
            ]

        # `partition` is built once per field (relations.connection_field), so its identity names it
        return self._get(("page", t, id(partition), cache_key), batch)

    def count(self, model: Any, partition: Any, where: Any, cache_key: Hashable) -> DataLoader:
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

        return self._get(("count", model, id(partition), cache_key), batch)

    def _connection(
        self,
        t: Any,
        page: query.PageResult,
        parent: int,
        partition: Any,
        where: Any,
        cache_key: Hashable,
    ) -> Connection[Any]:
        counter = self.count(t.__model__, partition, where, cache_key)
        return build_connection(t, page, lambda: counter.load(parent))

    @staticmethod
    def _group(keys: list[int], rows: Sequence[Any], build: Callable[[Any], Any]) -> list[list[Any]]:
        grouped: dict[int, list[Any]] = defaultdict(list)
        for row in rows:
            grouped[row._mapping["_parent"]].append(build(row))
        return [grouped.get(k, []) for k in keys]


def build_connection(t: Any, page: query.PageResult, count: Callable[[], Awaitable[int]]) -> Connection[Any]:
    edges = [
        Edge(cursor=cursor, node=t.from_row(row)) for row, cursor in zip(page.rows, page.cursors, strict=True)
    ]
    info = PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=page.cursors[0] if page.cursors else None,
        end_cursor=page.cursors[-1] if page.cursors else None,
    )
    return Connection(edges=edges, page_info=info, count=count)
