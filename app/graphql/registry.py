"""The entity registry: every entity of the schema declared once, and read by everything else.

A domain module declares a GraphQL type whose relation fields are made by
`app.graphql.relations` (`customer = rel(m.Opportunity.customer_id, Customer, "…")`),
then registers it with `entity(...)`: its table, the fields its filter input takes and
the keys its order input takes. From that one declaration come the filter and order
inputs, the filter's relation hops (from the relation fields themselves), the loaders
(keyed by the relation's declared name, `Opportunity.customer`), `node`/`nodes`, and
the prefetch plan (`app.graphql.prefetch`).

Types declared later are referenced by name through `ref`, which strawberry resolves
through this registry when the schema is built: one lazy mechanism, no import cycles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional, cast

import strawberry
from strawberry.types.lazy_type import LazyType

from app import query
from app.graphql.common import IDFilter, NullsOrder, OrderDirection
from app.ids import decode

REL = "og.relation"  # field metadata: the relation a field is (app.graphql.relations)
NEEDS = "og.needs"  # field metadata: names of relations a computed field reads (itemsTotal: items)

Target = type | str  # a GraphQL type, or the name of an entity declared later
Input = type  # a strawberry input class (the field `Entity.type` shadows the builtin in the class)


@dataclass(eq=False)
class Entity:
    """One entity: its GraphQL type, table, filter and order inputs and relations."""

    name: str
    type: type
    model: Any
    spec: query.FilterSpec
    filter: Input | None = None
    order: Input | None = None
    relations: dict[str, Any] = field(default_factory=dict)  # python name → relation
    columns: tuple[Any, ...] = ()  # every column as ORM attributes, so the tenancy hook sees the entity
    primary_key: tuple[Any, ...] = ()  # a stable tie-breaker for any order
    is_node: bool = True  # fetchable by global id (`node`, `nodes`)

    def build(self, row: Any) -> Any:
        return self.type.from_row(row)  # type: ignore[attr-defined]


ENTITIES: dict[str, Entity] = {}
_BY_TYPE: dict[type, Entity] = {}


def get(target: Target | Entity) -> Entity:
    """The entity of a GraphQL type or entity name."""
    if isinstance(target, Entity):
        return target
    if isinstance(target, str):
        return ENTITIES[target]
    return _BY_TYPE[target]


def node_entities() -> dict[str, Entity]:
    """The entities `node(id:)` can return, by GraphQL type name."""
    return {name: e for name, e in ENTITIES.items() if e.is_node}


@dataclass(frozen=True)
class Ref(LazyType[Any, Any]):
    """An entity's type, filter or order input, resolved through the registry at schema build."""

    part: str = "type"

    def resolve_type(self) -> type[Any]:
        resolved = getattr(ENTITIES[self.type_name], self.part)
        assert resolved is not None, f"{self.type_name} has no {self.part} input"
        return resolved


def ref(target: Target, part: str = "type") -> Any:
    """An annotation for `target`'s type (or its `filter`/`order` input), lazy when need be."""
    if not isinstance(target, str):
        known = _BY_TYPE.get(target)
        if part == "type":
            return target
        if known is not None:
            return getattr(known, part)
        target = target.__name__
    return Ref(target, __name__, None, part)


def entity(
    t: type,
    model: Any,
    *,
    filters: Mapping[str, tuple[Any, str] | str] | None = None,
    filter_doc: str = "",
    orders: Sequence[str] = (),
    default_order: tuple[tuple[str, bool], ...] = (("CREATED_AT", True),),
    columns: dict[str, Callable[[], Any]] | None = None,
    order_exprs: dict[str, Callable[[], Any]] | None = None,
    custom: dict[str, Callable[[Any], Any]] | None = None,
    checks: dict[str, Callable[[Any, Any], Any]] | None = None,
    is_node: bool = True,
) -> Entity:
    """Register `t` over `model`.

    `filters` lists the filter input's fields in order: `(type, description)` for a column
    (or a `columns`/`custom` field), or just a description for the relation field of that
    name, whose filter type and hops the relation gives. `orders` are the order enum's keys;
    `order_exprs` those that are not the column of the same (lower-cased) name.
    """
    relations = {
        f.python_name: f.metadata[REL]
        for f in t.__strawberry_definition__.fields  # type: ignore[attr-defined]
        if REL in (f.metadata or {})
    }
    spec = query.FilterSpec(
        model,
        columns=columns or {},
        custom=custom or {},
        orders=order_exprs or {},
        default_order=default_order,
        checks=checks or {},
    )
    e = Entity(
        name=t.__name__,
        type=t,
        model=model,
        spec=spec,
        relations=relations,
        columns=tuple(getattr(model, c.key) for c in model.__table__.columns),
        primary_key=tuple(getattr(model, c.key) for c in model.__table__.primary_key.columns),
        is_node=is_node,
    )
    ENTITIES[e.name] = _BY_TYPE[t] = e
    for name, relation in relations.items():
        relation.bind(e, name)
    if filters is not None:
        e.filter = _filter_input(e, filters, filter_doc)
    if orders:
        e.order = _order_input(e.name, orders, t.__module__)
    return e


# ---------------------------------------------------------------- inputs


def _filter_input(e: Entity, fields: Mapping[str, tuple[Any, str] | str], description: str) -> type:
    """`<Type>Filter`: `and`/`or`/`not`, `id`, and the declared fields, all optional.

    The compiler in `app.query` reads it through the entity's spec; nothing here is per field.
    """
    itself = Ref(e.name, __name__, None, "filter")
    ann: dict[str, Any] = {
        "and_": Optional[list[itself]],  # type: ignore[valid-type]  # noqa: UP045
        "or_": Optional[list[itself]],  # type: ignore[valid-type]  # noqa: UP045
        "not_": Optional[itself],  # noqa: UP045  (a lazy reference)
        "id": IDFilter | None,
    }
    ns: dict[str, Any] = {
        "and_": strawberry.field(default=None, name="and", description="All of these match."),
        "or_": strawberry.field(default=None, name="or", description="At least one of these matches."),
        "not_": strawberry.field(default=None, name="not", description="This does not match."),
        "id": strawberry.field(default=None, description="By global id."),
    }
    for key, declared in fields.items():
        if isinstance(declared, str):  # the relation field of this name
            relation = e.relations[key]
            typ, doc = relation.filter_type(), declared
            e.spec.relations[key] = relation.hops
        else:
            typ, doc = declared
        ann[key] = typ | None
        ns[key] = strawberry.field(default=None, description=doc)
    e.spec.convert.setdefault("id", id_filter_value(e.name))
    cls = type(f"{e.name}Filter", (), {"__annotations__": ann, **ns, "__module__": e.type.__module__})
    return strawberry.input(query.filter_spec(e.spec)(cls), description=description)


def id_filter_value(type_name: str) -> Callable[[Any], int]:
    """Filter values that are global ids become primary keys; any other id matches no row."""

    def convert(value: Any) -> int:
        pk = decode(type_name, value)
        return -1 if pk is None else pk  # ids are positive: -1 is in no row

    return convert


_QUANTIFIERS: dict[str, type] = {}


def quantifier_input(name: str, target: Target, noun: str, module: str) -> type:
    """`<Name> {some, none, every}`: a to-many relation's filter over `target`'s filter input.

    Made once per name: several relations share one (RelatedOpportunitiesFilter).
    """
    if name in _QUANTIFIERS:
        return _QUANTIFIERS[name]
    docs = {
        "some": f"At least one of its {noun} matches.",
        "none": f"None of its {noun} matches.",
        "every": f"Every one of its {noun} matches (true when it has none).",
    }
    inner = ref(target, "filter")
    ann = {q: Optional[inner] for q in docs}  # noqa: UP045  (inner may be a lazy reference)
    ns = {q: strawberry.field(default=None, description=doc) for q, doc in docs.items()}
    cls = type(name, (), {"__annotations__": ann, **ns, "__module__": module})
    made = strawberry.input(cls, description=f"Filter on {noun}: some, none or every; combined with AND.")
    _QUANTIFIERS[name] = made
    return made


def _order_input(type_name: str, fields: Sequence[str], module: str) -> type:
    """`<Type>OrderField` enum and `<Type>Order {field, direction, nulls}` input for one type."""
    members = {name: name for name in fields}
    # Enum's functional API makes a class; typeshed types the call as an instance
    field_enum = strawberry.enum(
        cast(type[Enum], Enum(f"{type_name}OrderField", members)),
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
    return strawberry.input(
        cls,
        description=f"One sort key for {type_name} lists; rows that tie on every key come by id, ascending, whatever the keys' directions.",
    )
