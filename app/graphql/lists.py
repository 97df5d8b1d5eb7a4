"""Lists and roots of any entity: root connections, nested (per-parent) connections, one by id.

Each resolver, once it has its rows, runs the prefetch plan over them, so the
relations the query selects below are loaded a level at a time before
graphql-core descends (app.graphql.prefetch).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, true

from app import query
from app.errors import BadUserInput
from app.graphql import joins, prefetch, reads, registry
from app.graphql.common import Connection, NullsOrder, OrderDirection
from app.graphql.context import Info
from app.graphql.loaders import build_connection, built, kept_statement, keys_param
from app.ids import decode
from app.tenancy import STABLE


def order_keys(
    spec: query.FilterSpec, order_by: list[Any] | None, default: Sequence[tuple[str, bool]] | None = None
) -> list[query.OrderKey]:
    if order_by:
        check_order(order_by)
        keys = [
            query.OrderKey(
                spec.order_expr(o.field.value),
                descending=o.direction == OrderDirection.DESC,
                nulls_last=None if o.nulls is None else o.nulls == NullsOrder.LAST,
            )
            for o in order_by
        ]
    else:
        keys = [
            query.OrderKey(spec.order_expr(name), descending=desc)
            for name, desc in (default or spec.default_order)
        ]
    return query.order_keys(keys, spec.model.id)


MAX_ORDER_KEYS = 5


def check_order(order_by: list[Any]) -> None:
    """A key named twice contradicts itself (or repeats); a long list is a runaway sort."""
    names = [o.field.value for o in order_by]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BadUserInput(f"`orderBy` names {', '.join(twice)} more than once", argument="orderBy")
    if len(names) > MAX_ORDER_KEYS:
        raise BadUserInput(f"`orderBy` has {len(names)} keys; at most {MAX_ORDER_KEYS}", argument="orderBy")


@dataclasses.dataclass(frozen=True)
class ListArgs:
    """The arguments every list takes: filter, orderBy and a page."""

    filter: Any = None
    order_by: list[Any] | None = None
    page: query.PageArgs = dataclasses.field(default_factory=query.PageArgs)

    def cache_key(self) -> str:
        return repr((self.filter, self.order_by, self.page))


async def filter_where(info: Info, flt: Any) -> Any:
    """The WHERE predicate of a filter input, after the checks that need the database.

    A check (a custom field filter against its definition's type) raises BAD_USER_INPUT;
    the compiler itself refuses contradictory operators the same way.
    """
    await check_filter(info, flt)
    return true() if flt is None else query.compile_filter(flt)


async def check_filter(info: Info, flt: Any) -> None:
    """The checks of a filter input that need the database (they run for every request)."""
    if flt is None:
        return
    for spec, name, value in query.walk(flt):
        check = spec.checks.get(name)
        if check is not None:
            await check(info.context, value)


@dataclasses.dataclass(frozen=True)
class _RootStatements:
    """A root list's statements for one set of arguments, built once and kept (`_ROOTS`)."""

    keys: list[query.OrderKey]
    plan: query.PagePlan
    page: Any  # the page, with its total as a subquery when `totalCount` is selected
    counting: Any  # the total alone (an empty page carries none)
    joins: tuple[joins.Join, ...]  # the to-one relations the page's statement joins


# Root lists' statements by everything they are built from (entity, arguments, trash state, page
# size settings, dialect, whether the total rides along): the same board asked again reuses
# them, STABLE, so their SQL is compiled and prepared once. Bounded: least recently used go.
_ROOTS: OrderedDict[tuple[Any, ...], _RootStatements] = OrderedDict()
ROOTS_KEPT = 256


def _root_statements(
    info: Info,
    e: registry.Entity,
    args: ListArgs,
    default_order: Sequence[tuple[str, bool]] | None,
    trash: str | None,
    counted: bool,
) -> _RootStatements:
    ctx = info.context
    settings = ctx.settings
    columns, names = reads.columns(e)
    keys = order_keys(e.spec, args.order_by, default_order)
    joined = joins.plan(info, e, args.filter is not None, keys) if trash is None else ()
    cache_key = (
        e.name,
        names,
        tuple(join.key for join in joined),
        args.cache_key(),
        tuple(default_order or ()),
        trash,
        counted,
        settings.default_page_size,
        settings.max_page_size,
        ctx.db.dialect,
    )
    made = _ROOTS.get(cache_key)
    if made is not None:
        _ROOTS.move_to_end(cache_key)
        return made
    plan = query.plan_page(
        args.page, keys, default_size=settings.default_page_size, max_size=settings.max_page_size
    )
    where = true() if args.filter is None else query.compile_filter(args.filter)
    counting = select(func.count()).select_from(e.model).where(where)
    stmt = joins.joined(select(*columns), joined).where(where)
    if trash is not None:
        counting = counting.execution_options(og_trash=trash)
        stmt = stmt.execution_options(og_trash=trash)
    if counted:
        # The total rides along as an uncorrelated subquery (evaluated once, scoped by the tenancy
        # hook like any subquery): the page and its count in one round trip. It counts the filter
        # only, not the cursor bounds, so it is the total for any page of the list.
        stmt = stmt.add_columns(counting.correlate(None).scalar_subquery().label("_total"))
    stable = {STABLE: True}
    made = _RootStatements(
        keys,
        plan,
        query.paged(stmt, plan).execution_options(**stable),
        counting.execution_options(**stable),
        joined,
    )
    _ROOTS[cache_key] = made
    if len(_ROOTS) > ROOTS_KEPT:
        _ROOTS.popitem(last=False)
    return made


async def root_connection(
    info: Info,
    e: registry.Entity,
    args: ListArgs,
    *,
    default_order: Sequence[tuple[str, bool]] | None = None,
    trash: str | None = None,
) -> Connection[Any]:
    """A top-level list: one statement for the page, one more only if totalCount is selected.

    `trash` (a deal state of app.tenancy) points its statements at the trash instead of live deals.
    """
    ctx = info.context
    await check_filter(info, args.filter)
    counted = prefetch.selects(info, "totalCount")
    made = _root_statements(info, e, args, default_order, trash, counted)
    counting = made.counting
    rows = await ctx.db.rows(made.page)
    page = query.read_page(rows, made.plan, made.keys)
    known = rows[0]._mapping["_total"] if counted and rows else None

    async def count() -> int:
        if known is not None:
            return int(known)
        return int(await ctx.db.scalar(counting))  # an empty page carries no total

    connection = build_connection(e, page, count)
    joins.prime(ctx.loaders, made.joins, rows)
    loader = ctx.loaders.by_id(e)
    rows = connection.nodes()
    for node in rows if trash is None else ():  # `node(id:)` never answers from the trash
        loader.prime(node.pk, node)
    await prefetch.below_connection(info, rows)
    return connection


async def nested_connection(info: Info, relation: Any, parent: int, args: ListArgs) -> Connection[Any]:
    """A list under a parent (`customer.opportunities`): batched with its siblings' lists.

    Every parent of a page calls this with the same arguments: the filter and order are
    compiled for the first one and reused (a 1000-row page would otherwise compile 1000 times).
    """
    e: registry.Entity = relation.entity
    cache_key = args.cache_key()
    compiled = info.context.extras.setdefault("nested_lists", {})
    key = (relation.key, cache_key)
    if key not in compiled:
        keys = order_keys(e.spec, args.order_by, relation.default_order)
        compiled[key] = (await filter_where(info, args.filter), keys)
    where, keys = compiled[key]

    async def after(pages: list[Connection[Any]]) -> None:
        # for all parents' pages at once: their counts in one batch, then the plan below them
        if prefetch.selects(info, "totalCount"):
            for page in pages:
                page.count()
        await prefetch.below_connection(info, [node for page in pages for node in page.nodes()])

    # the page loader plans for one selection (these field nodes), so it is keyed by them too
    selection = tuple(id(node) for node in info._raw_info.field_nodes)
    loader = info.context.loaders.page(
        relation.key,
        e,
        relation.partition,
        where,
        keys,
        args.page,
        cache_key,
        selection=selection,
        after=after,
    )
    return await loader.load(parent)


async def root_one(info: Info, e: registry.Entity, gid: Any) -> Any:
    """One row by global id (null when not of this type, missing or not visible).

    Its selected to-one relations ride in the lookup's statement when they can (app/graphql/joins.py).
    """
    pk = decode(e.name, gid)
    if pk is None:
        return None
    loader = info.context.loaders.by_id(e)
    joined = joins.plan_object(info, e) if pk not in loader.values else ()
    found = await (_joined_one(info, e, pk, joined) if joined else loader.load(pk))
    if found is not None:
        await prefetch.below_object(info, found)
    return found


async def _joined_one(info: Info, e: registry.Entity, pk: int, joined: tuple[joins.Join, ...]) -> Any:
    """The lookup by primary key with its joins; what it found goes into the `by_id` loaders."""
    ctx = info.context
    columns, names = reads.columns(e)
    dialect = ctx.db.dialect
    stmt = kept_statement(
        ("one", e.name, names, tuple(join.key for join in joined), dialect),
        lambda: joins.joined(select(*columns), joined).where(keys_param(e.model.id, dialect)),
    )
    rows = await ctx.db.rows(stmt, {"keys": [pk]})
    joins.prime(ctx.loaders, joined, rows)
    found = built(e, rows)[0] if rows else None
    ctx.loaders.by_id(e).known(pk, found)  # not visible, or missing: None, as a lookup answers
    return found
