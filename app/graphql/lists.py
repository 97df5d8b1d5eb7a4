"""Lists of any type: order inputs, root connections and nested (per-parent) connections."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from enum import Enum
from typing import Any, Optional

import strawberry
from sqlalchemy import func, select, true

from app import query
from app.errors import BadUserInput
from app.graphql.common import Connection, NullsOrder, OrderDirection
from app.graphql.context import Info
from app.graphql.loaders import build_connection, columns


def order_input(type_name: str, fields: Sequence[str], module: str) -> type:
    """`<Type>OrderField` enum and `<Type>Order {field, direction, nulls}` input for one type."""
    members = {name: name for name in fields}
    field_enum = strawberry.enum(
        Enum(f"{type_name}OrderField", members),  # type: ignore[misc]
        description=f"What {type_name} lists can be sorted by.",
    )
    namespace = {
        "__annotations__": {"field": field_enum, "direction": OrderDirection, "nulls": NullsOrder | None},
        "field": strawberry.field(description="The key to sort by."),
        "direction": strawberry.field(default=OrderDirection.ASC, description="Ascending or descending."),
        "nulls": strawberry.field(
            default=None,
            description="Where rows without a value go; by default they sort as the largest value.",
        ),
        "__module__": module,
    }
    cls = type(f"{type_name}Order", (), namespace)
    return strawberry.input(cls, description=f"One sort key for {type_name} lists; ties are broken by id.")


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
    if flt is None:
        return true()
    for spec, name, value in query.walk(flt):
        check = spec.checks.get(name)
        if check is not None:
            await check(info.context, value)
    return query.compile_filter(flt)


async def root_connection(info: Info, t: Any, args: ListArgs) -> Connection[Any]:
    """A top-level list: one statement for the page, one more only if totalCount is selected."""
    ctx = info.context
    spec: query.FilterSpec = t.__spec__
    keys = order_keys(spec, args.order_by)
    plan = query.plan_page(
        args.page,
        keys,
        default_size=ctx.settings.default_page_size,
        max_size=ctx.settings.max_page_size,
    )
    where = await filter_where(info, args.filter)
    rows = await ctx.db.rows(query.paged(select(*columns(spec.model)).where(where), plan))
    page = query.read_page(rows, plan, keys)

    async def count() -> int:
        return int(await ctx.db.scalar(select(func.count()).select_from(spec.model).where(where)))

    connection = build_connection(t, page, count)
    loader = ctx.loaders.by_id(t)
    for edge in connection.edges:
        loader.prime(edge.node.pk, edge.node)
    return connection


async def nested_connection(
    info: Info,
    t: Any,
    partition: Any,
    parent: int,
    args: ListArgs,
    default_order: Sequence[tuple[str, bool]] | None = None,
) -> Connection[Any]:
    """A list under a parent (`customer.opportunities`): batched with its siblings' lists.

    Every parent of a page calls this with the same arguments: the filter and order are
    compiled for the first one and reused (a 1000-row page would otherwise compile 1000 times).
    """
    cache_key = args.cache_key()
    compiled = info.context.extras.setdefault("nested_lists", {})
    key = (t, id(partition), cache_key)
    if key not in compiled:
        keys = order_keys(t.__spec__, args.order_by, default_order)
        compiled[key] = (await filter_where(info, args.filter), keys)
    where, keys = compiled[key]
    loader = info.context.loaders.page(t, partition, where, keys, args.page, cache_key)
    return await loader.load(parent)  # type: ignore[no-any-return]


def quantifier_input(name: str, target: Any, noun: str, module: str) -> type:
    """`<Name> {some, none, every}`: a to-many relation filter over `target` (a filter input type,
    or a lazy annotation of one defined later). Quantifiers are combined with AND."""
    docs = {
        "some": f"At least one of its {noun} matches.",
        "none": f"None of its {noun} matches.",
        "every": f"Every one of its {noun} matches (true when it has none).",
    }
    ann = {q: Optional[target] for q in docs}  # noqa: UP045  (target may be a lazy annotation)
    ns = {q: strawberry.field(default=None, description=doc) for q, doc in docs.items()}
    cls = type(name, (), {"__annotations__": ann, **ns, "__module__": module})
    return strawberry.input(cls, description=f"Filter on {noun}: some, none or every; combined with AND.")
