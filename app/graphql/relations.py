"""Field factories: relation fields through loaders, list fields, and filter inputs.

Every relation in the schema is made here, so every one goes through a loader and
every list takes the same filter, orderBy and page arguments.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Optional

import strawberry

from app import query
from app.graphql.common import Connection, IDFilter, from_global_id
from app.graphql.context import Info
from app.graphql.lists import ListArgs, nested_connection, root_connection

Target = type | tuple[str, str]  # a GraphQL type, or (module, name) for one defined later


@functools.cache
def _resolve(target: Target) -> Any:
    if isinstance(target, tuple):
        return getattr(importlib.import_module(target[0]), target[1])
    return target


def _annotation(target: Target, suffix: str = "") -> Any:
    if isinstance(target, tuple):
        return Annotated[target[1] + suffix, strawberry.lazy(target[0])]
    if suffix:
        module = importlib.import_module(target.__module__)
        return getattr(module, target.__name__ + suffix)
    return target


# Relation fields are the hot path of every list: one call per parent object. Their resolvers
# only read `info.context`, which graphql-core's info has too, so once the schema is built
# `install_lean_resolvers` hands them to graphql-core directly, skipping strawberry's
# per-call wrapper (Info object, argument conversion, extension chain): about a third of
# the time of a 1000-row board. They take no arguments and no field extensions.
LEAN = "og.lean_resolver"


def _field(resolve: Callable[..., Any], description: str) -> Any:
    return strawberry.field(resolver=resolve, description=description, metadata={LEAN: resolve})


def install_lean_resolvers(schema: strawberry.Schema) -> None:
    backref = "strawberry-definition"
    for gql_type in schema._schema.type_map.values():
        for gql_field in getattr(gql_type, "fields", {}).values():
            definition = (getattr(gql_field, "extensions", None) or {}).get(backref)
            lean = getattr(definition, "metadata", {}).get(LEAN) if definition is not None else None
            if lean is not None:
                gql_field.resolve = lean


def to_one(target: Target, fk: str, description: str, *, required: bool = False) -> Any:
    """A to-one relation: the row whose id is in this row's `fk` column."""

    def resolve(self: Any, info: Info) -> Any:
        key = getattr(self, fk)
        if key is None:
            return None
        return info.context.loaders.by_id(_resolve(target)).load(key)

    ann = _annotation(target)
    resolve.__annotations__ = {"info": Info, "return": ann if required else ann | None}
    return _field(resolve, description)


def to_many(
    target: Target,
    column: Callable[[], Any],
    order: Callable[[], Sequence[Any]],
    description: str,
    *,
    key: str | None = None,
) -> Any:
    """All child rows in a fixed order (stages of a pipeline, items of an opportunity).

    `key` names the loader, for another field that wants the same rows (itemsTotal).
    """

    sql = functools.cache(lambda: (column(), *order()))  # built once, on first use

    def resolve(self: Any, info: Info) -> Any:
        loader = info.context.loaders.children(_resolve(target), *sql(), key=key or resolve)
        return loader.load(self.pk)

    resolve.__annotations__ = {"info": Info, "return": list[_annotation(target)]}  # type: ignore[misc]
    return _field(resolve, description)


def through(
    target: Target,
    link_parent: Callable[[], Any],
    link_target: Callable[[], Any],
    order: Callable[[], Any],
    description: str,
) -> Any:
    """Rows linked through a link table, in the link's order (participants, access list)."""

    sql = functools.cache(lambda: (link_parent(), link_target(), order()))  # built once, on first use

    def resolve(self: Any, info: Info) -> Any:
        loader = info.context.loaders.through(_resolve(target), *sql(), key=resolve)
        return loader.load(self.pk)

    resolve.__annotations__ = {"info": Info, "return": list[_annotation(target)]}  # type: ignore[misc]
    return _field(resolve, description)


_ARG_DOCS = {
    "filter": "Only rows matching this filter.",
    "order_by": "Sort keys, most significant first; ties are broken by id.",
    "first": "Page size from the start (or from `after`); default 20, at most 1000.",
    "after": "Return rows after this cursor.",
    "last": "Page size from the end (or from `before`); at most 1000.",
    "before": "Return rows before this cursor.",
    "offset": "Skip this many rows first (page/size clients); works with `first`.",
}


def connection_field(
    target: Target,
    description: str,
    *,
    partition: Callable[[], Any] | None = None,
    default_order: Sequence[tuple[str, bool]] | None = None,
) -> Any:
    """A Relay connection with filter, orderBy and first/after/last/before/offset.

    With `partition`, the list is a parent's children (the partition expression equals
    the parent's id) and all parents' pages are fetched in one statement.
    """

    # one expression object for the field's life: the nested page loaders are keyed by it
    partition_sql = functools.cache(partition) if partition is not None else None

    async def resolve(self: Any, info: Info, **kw: Any) -> Any:
        t = _resolve(target)
        page = query.PageArgs(kw["first"], kw["after"], kw["last"], kw["before"], kw["offset"])
        args = ListArgs(kw["filter"], kw["order_by"], page)
        if partition_sql is None:
            return await root_connection(info, t, args)
        return await nested_connection(info, t, partition_sql(), self.pk, args, default_order)

    def arg(t: Any, name: str) -> Any:
        return Annotated[t | None, strawberry.argument(description=_ARG_DOCS[name])]

    params = {
        "filter": arg(_annotation(target, "Filter"), "filter"),
        "order_by": arg(list[_annotation(target, "Order")], "order_by"),  # type: ignore[misc]
        "first": arg(int, "first"),
        "after": arg(str, "after"),
        "last": arg(int, "last"),
        "before": arg(str, "before"),
        "offset": arg(int, "offset"),
    }
    returns = Connection[_annotation(target)]  # type: ignore[misc]
    resolve.__signature__ = _signature(params, returns)  # type: ignore[attr-defined]
    resolve.__annotations__ = {"info": Info, **params, "return": returns}
    return strawberry.field(resolver=resolve, description=description)


def _signature(params: dict[str, Any], returns: Any) -> inspect.Signature:
    p = inspect.Parameter
    return inspect.Signature(
        [p("self", p.POSITIONAL_OR_KEYWORD), p("info", p.POSITIONAL_OR_KEYWORD, annotation=Info)]
        + [p(name, p.KEYWORD_ONLY, default=None, annotation=a) for name, a in params.items()],
        return_annotation=returns,
    )


def decode_id(type_name: str) -> Callable[[Any], int]:
    """Filter values that are global ids become primary keys; a foreign id matches nothing."""

    def convert(value: Any) -> int:
        decoded = from_global_id(str(value))
        if decoded is None or decoded[0] != type_name:
            return -1  # ids are positive: an id of another type or form matches no row
        return decoded[1]

    return convert


def filter_input(
    name: str, module: str, spec: query.FilterSpec, fields: dict[str, tuple[Any, str]], description: str
) -> type:
    """A `<Type>Filter` input: `and`/`or`/`not`, `id`, and the given fields, all optional.

    The compiler in `app.query` reads it through `spec`; nothing here is per field.
    """
    ann: dict[str, Any] = {
        "and_": list[name] | None,  # type: ignore[valid-type]
        "or_": list[name] | None,  # type: ignore[valid-type]
        "not_": Optional[name],  # noqa: UP045  (a forward reference by name)
        "id": IDFilter | None,
    }
    ns: dict[str, Any] = {
        "and_": strawberry.field(default=None, name="and", description="All of these match."),
        "or_": strawberry.field(default=None, name="or", description="At least one of these matches."),
        "not_": strawberry.field(default=None, name="not", description="This does not match."),
        "id": strawberry.field(default=None, description="By global id."),
    }
    for key, (typ, doc) in fields.items():
        ann[key] = typ | None
        ns[key] = strawberry.field(default=None, description=doc)
    spec.convert.setdefault("id", decode_id(name.removesuffix("Filter")))
    cls = type(name, (), {"__annotations__": ann, **ns, "__module__": module})
    return strawberry.input(query.filter_spec(spec)(cls), description=description)


def entity(t: Any, model: Any, spec: query.FilterSpec | None = None) -> None:
    """Tie a GraphQL type to its table (for loaders) and its filter spec (for lists)."""
    t.__model__ = model
    t.__spec__ = spec
