"""Relation fields: each relation declared once, as the field of its owner type.

`rel`, `children`, `through`, `values` and `connection` each make one strawberry
field and carry the relation in its metadata; `registry.entity` binds it to its
owner (its name is the field's python name). From that one declaration come the
field's resolver, the filter hops (`hops`) and filter type (`filter_type`) of the
owner's filter input, the loader (keyed `Owner.name`), and the prefetch steps.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

import strawberry

from app import query
from app.graphql import registry
from app.graphql.common import READS, Connection, GlobalID
from app.graphql.context import Info
from app.graphql.lists import ListArgs, nested_connection, root_connection, root_one
from app.graphql.loaders import Loader, Loaders
from app.query import Hop

# Relation fields are the hot path of every list: one call per parent object. Their resolvers
# only read `info.context`, which graphql-core's info has too, so once the schema is built
# `install_lean_resolvers` hands them to graphql-core directly, skipping strawberry's
# per-call wrapper (Info object, argument conversion, extension chain): about a third of
# the time of a 1000-row board. They take no arguments and no field extensions.
LEAN = "og.lean_resolver"


def install_lean_resolvers(schema: strawberry.Schema) -> int:
    """Give graphql-core the lean resolvers; returns how many fields got one."""
    backref = "strawberry-definition"
    installed = 0
    for gql_type in schema._schema.type_map.values():
        for gql_field in getattr(gql_type, "fields", {}).values():
            definition = (getattr(gql_field, "extensions", None) or {}).get(backref)
            lean = getattr(definition, "metadata", {}).get(LEAN) if definition is not None else None
            if lean is not None:
                gql_field.resolve = lean
                installed += 1
    return installed


class Relation:
    """What every relation kind has: an owner, a name, a target entity and a loader."""

    many = True  # a to-many relation's filter takes some/none/every
    prefetched = True  # the planner loads it ahead (connections plan their own pages)

    def __init__(self, target: registry.Target, quantifier: tuple[str, str] | None = None) -> None:
        self.target = target
        self.quantifier = quantifier  # (input name, noun) of a to-many relation's filter
        self.owner: registry.Entity | None = None
        self.name = ""

    def bind(self, owner: registry.Entity, name: str) -> None:
        self.owner, self.name = owner, name

    @property
    def key(self) -> str:
        assert self.owner is not None, "relation used before its entity was registered"
        return f"{self.owner.name}.{self.name}"

    @functools.cached_property
    def entity(self) -> registry.Entity:
        return registry.get(self.target)

    def filter_type(self) -> Any:
        if not self.many:
            return registry.ref(self.target, "filter")
        assert self.quantifier is not None and self.owner is not None, f"{self.key} is not filterable"
        name, noun = self.quantifier
        return registry.quantifier_input(name, self.target, noun, self.owner.type.__module__)

    def hops(self) -> query.Relation:
        raise NotImplementedError

    def get(self, loaders: Loaders, obj: Any) -> Any:
        """The related value of `obj`: the value itself when loaded, else an awaitable."""
        raise NotImplementedError

    def steps(self) -> list[Callable[[Loaders, list[Any]], Awaitable[list[Any]]]]:
        """What the planner runs, one level each, to load this relation for many objects."""
        return [self.fetch]

    async def fetch(self, loaders: Loaders, objs: list[Any]) -> list[Any]:
        """Load the relation of every object in one batch; the related objects, flat."""
        raise NotImplementedError

    def resolver(self) -> Callable[[Any, Any], Any]:
        relation = self

        def resolve(self: Any, info: Any) -> Any:  # `self` is the parent object, as strawberry names it
            return relation.get(info.context.loaders, self)

        return resolve


class ToOne(Relation):
    """The row of `target` whose id is in the owner's `fk` column (or a path of such hops)."""

    many = False

    def __init__(self, path: Sequence[tuple[Any, registry.Target]]) -> None:
        super().__init__(path[-1][1])
        self.path = [(fk.key, fk, target) for fk, target in path]

    def hops(self) -> query.Relation:
        return query.Relation(tuple(Hop(fk, registry.get(t).model.id) for _, fk, t in self.path))

    @functools.cached_property
    def _hops(self) -> list[tuple[str, registry.Entity]]:
        return [(attr, registry.get(target)) for attr, _, target in self.path]

    def get(self, loaders: Loaders, obj: Any) -> Any:
        for i, (attr, target) in enumerate(self._hops):
            key = None if obj is None else getattr(obj, attr)
            if key is None:
                return None  # no key, or a hop that is not visible
            obj = loaders.by_id(target).get(key)
            if isinstance(obj, asyncio.Future):  # `Loader.get`: the value, or a future of it
                return self._rest(loaders, obj, i + 1)
        return obj

    async def _rest(self, loaders: Loaders, pending: Awaitable[Any], step: int) -> Any:
        obj = await pending
        for attr, _, target in self.path[step:]:
            if obj is None or getattr(obj, attr) is None:
                return None
            obj = await loaders.by_id(target).load(getattr(obj, attr))
        return obj

    def steps(self) -> list[Callable[[Loaders, list[Any]], Awaitable[list[Any]]]]:
        return [functools.partial(self._hop, attr, target) for attr, _, target in self.path]

    @staticmethod
    async def _hop(attr: str, target: registry.Target, loaders: Loaders, objs: list[Any]) -> list[Any]:
        keys = list({k for k in (getattr(o, attr) for o in objs) if k is not None})
        found = await loaders.by_id(target).fetch_many(keys)
        return [o for o in found if o is not None]


class Children(Relation):
    """All rows of `target` whose `column` holds the owner's id, in a fixed order."""

    def __init__(self, column: Any, target: registry.Target, order: Sequence[Any], **kw: Any) -> None:
        super().__init__(target, **kw)
        self.column, self.order = column, tuple(order)

    def hops(self) -> query.Relation:
        assert self.owner is not None
        return query.Relation((Hop(self.owner.model.id, self.column),), many=True)

    def loader(self, loaders: Loaders) -> Loader:
        return loaders.children(self.key, self.entity, self.column, self.order)

    def get(self, loaders: Loaders, obj: Any) -> Any:
        return self.loader(_for(loaders, obj)).get(obj.pk)

    async def fetch(self, loaders: Loaders, objs: list[Any]) -> list[Any]:
        found = []
        for group in _by_state(objs):
            lists = await self.loader(_for(loaders, group[0])).fetch_many(
                list(dict.fromkeys(o.pk for o in group))
            )
            found += [child for children in lists if children for child in children]
        return found


def _trashed(obj: Any) -> bool:
    return getattr(obj, "deleted_at", None) is not None


def _for(loaders: Loaders, obj: Any) -> Loaders:
    """A trashed deal (only `trashedOpportunities` returns one) reads its children from the trash."""
    return loaders.in_trash() if _trashed(obj) else loaders


def _by_state(objs: list[Any]) -> list[list[Any]]:
    live = [o for o in objs if not _trashed(o)]
    trashed = [o for o in objs if _trashed(o)]
    return [group for group in (live, trashed) if group]


class Through(Children):
    """Rows of `target` linked to the owner through a link table, in the link's order."""

    def __init__(self, link_parent: Any, link_target: Any, target: registry.Target, order: Any, **kw: Any):
        super().__init__(link_parent, target, (order,), **kw)
        self.link_target = link_target

    def hops(self) -> query.Relation:
        assert self.owner is not None
        return query.Relation(
            (Hop(self.owner.model.id, self.column), Hop(self.link_target, self.entity.model.id)), many=True
        )

    def loader(self, loaders: Loaders) -> Loader:
        return loaders.through(self.key, self.entity, self.column, self.link_target, self.order[0])


class Values(Children):
    """Plain values in a child table (tags), in a fixed order."""

    def __init__(self, value: Any, parent: Any, order: Any) -> None:
        super().__init__(parent, "", (order,))
        self.value = value

    def loader(self, loaders: Loaders) -> Loader:
        return loaders.values(self.key, self.value, self.column, self.order[0])

    async def fetch(self, loaders: Loaders, objs: list[Any]) -> list[Any]:
        for group in _by_state(objs):
            await self.loader(_for(loaders, group[0])).fetch_many(list(dict.fromkeys(o.pk for o in group)))
        return []  # strings: nothing below them to plan


class Page(Relation):
    """A connection of `target` rows whose `partition` is the owner's id (one page per parent)."""

    prefetched = False  # its resolver pages, then plans below its own rows

    def __init__(self, partition: Any, target: registry.Target, default_order: Any, **kw: Any) -> None:
        super().__init__(target, **kw)
        self.partition, self.default_order = partition, default_order

    def hops(self) -> query.Relation:
        assert self.owner is not None
        return query.Relation((Hop(self.owner.model.id, self.partition),), many=True)


def _field(relation: Relation, returns: Any, description: str) -> Any:
    resolve = relation.resolver()
    resolve.__annotations__ = {"info": Info, "return": returns}
    meta = {LEAN: resolve, registry.REL: relation, READS: ()}  # a relation reads its owner's keys
    return strawberry.field(resolver=resolve, description=description, metadata=meta)


def rel(fk: Any, target: registry.Target, description: str, *, required: bool = False) -> Any:
    """A to-one relation: the `target` row whose id is in this row's `fk` column."""
    ann = registry.ref(target)
    return _field(ToOne([(fk, target)]), ann if required else ann | None, description)


def rel_path(path: Sequence[tuple[Any, registry.Target]], description: str) -> Any:
    """A to-one relation through to-one hops (a deal's pipeline is its stage's)."""
    return _field(ToOne(path), registry.ref(path[-1][1]) | None, description)


def children(
    column: Any,
    target: registry.Target,
    description: str,
    *,
    order: Sequence[Any],
    quantifier: tuple[str, str] | None = None,
) -> Any:
    """All child rows in a fixed order (stages of a pipeline, items of an opportunity)."""
    relation = Children(column, target, order, quantifier=quantifier)
    return _field(relation, list[registry.ref(target)], description)  # type: ignore[misc]


def through(
    link_parent: Any,
    link_target: Any,
    target: registry.Target,
    description: str,
    *,
    order: Any,
    quantifier: tuple[str, str] | None = None,
) -> Any:
    """Rows linked through a link table, in the link's order (participants, access list)."""
    relation = Through(link_parent, link_target, target, order, quantifier=quantifier)
    return _field(relation, list[registry.ref(target)], description)  # type: ignore[misc]


def values(value: Any, parent: Any, order: Any, description: str) -> Any:
    """Plain values of a child table (a deal's tags), in `order`."""
    return _field(Values(value, parent, order), list[str], description)


_ARG_DOCS = {
    "filter": "Only rows matching this filter.",
    "order_by": "Sort keys, most significant first; rows that tie on every key come by id, ascending, whatever the keys' directions.",
    "first": "Page size from the start (or from `after`); default 20, at most 1000.",
    "after": "Return rows after this cursor.",
    "last": "Page size from the end (or from `before`); at most 1000.",
    "before": "Return rows before this cursor.",
    "offset": "Skip this many rows first (page/size clients); works with `first`.",
}


def connection(
    partition: Any,
    target: registry.Target,
    description: str,
    *,
    default_order: Sequence[tuple[str, bool]] | None = None,
    quantifier: tuple[str, str] | None = None,
) -> Any:
    """A Relay connection of a parent's children (the `partition` expression equals the parent's
    id): filter, orderBy and first/after/last/before/offset; all parents' pages in one statement."""
    relation = Page(partition, target, default_order, quantifier=quantifier)

    async def resolve(self: Any, info: Info, **kw: Any) -> Any:
        return await nested_connection(info, relation, self.pk, _list_args(kw))

    return _connection_field(resolve, target, description, {registry.REL: relation, READS: ()})


def list_root(target: registry.Target, description: str) -> Any:
    """A root connection: every visible row of `target`, with the same arguments."""

    async def resolve(self: Any, info: Info, **kw: Any) -> Any:
        return await root_connection(info, registry.get(target), _list_args(kw))

    return _connection_field(resolve, target, description, {READS: ()})


def one_root(target: registry.Target, description: str) -> Any:
    """`<type>(id: ID!)`: one record by global id, null when missing or not visible."""

    async def resolve(self: Any, info: Info, id: strawberry.ID) -> Any:  # noqa: A002
        return await root_one(info, registry.get(target), id)

    resolve.__annotations__ = {"info": Info, "id": GlobalID, "return": registry.ref(target) | None}
    return strawberry.field(resolver=resolve, description=description, metadata={READS: ()})


def _list_args(kw: dict[str, Any]) -> ListArgs:
    page = query.PageArgs(kw["first"], kw["after"], kw["last"], kw["before"], kw["offset"])
    return ListArgs(kw["filter"], kw["order_by"], page)


def _connection_field(resolve: Any, target: registry.Target, description: str, meta: dict[str, Any]) -> Any:
    def arg(t: Any, name: str) -> Any:
        return Annotated[t | None, strawberry.argument(description=_ARG_DOCS[name])]

    params = {
        "filter": arg(registry.ref(target, "filter"), "filter"),
        "order_by": arg(list[registry.ref(target, "order")], "order_by"),  # type: ignore[misc]
        "first": arg(int, "first"),
        "after": arg(str, "after"),
        "last": arg(int, "last"),
        "before": arg(str, "before"),
        "offset": arg(int, "offset"),
    }
    returns = Connection[registry.ref(target)]  # type: ignore[valid-type, misc]  # a lazy type, made at run time
    resolve.__signature__ = _signature(params, returns)
    resolve.__annotations__ = {"info": Info, **params, "return": returns}
    return strawberry.field(resolver=resolve, description=description, metadata=meta)


def _signature(params: dict[str, Any], returns: Any) -> inspect.Signature:
    p = inspect.Parameter
    return inspect.Signature(
        [p("self", p.POSITIONAL_OR_KEYWORD), p("info", p.POSITIONAL_OR_KEYWORD, annotation=Info)]
        + [p(name, p.KEYWORD_ONLY, default=None, annotation=a) for name, a in params.items()],
        return_annotation=returns,
    )


def then(value: Any, use: Callable[[Any], Any]) -> Any:
    """`use(value)` now when `value` is loaded, or an awaitable of it when it is still pending."""
    if inspect.isawaitable(value):

        async def later() -> Any:
            return use(await value)

        return later()
    return use(value)
