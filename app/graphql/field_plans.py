"""Plans of collected selection sets: what the compiled executor knows about a field before any row.

A `FieldPlan` says how one response key of one collected selection set is executed: the
field definition and resolver, whether the resolver needs an info object (strawberry's
"basic" attribute resolvers ignore it, and are read as one `getattr`), the shape of the
return type (leaf, object, list of leaves or objects) with its serializer, or STOCK when
graphql-core's `execute_field` must run it: arguments (strawberry converts them),
abstract types, lists of lists, directives other than @include/@skip, object types with
an `is_type_of` of their own.

Plans are cached per schema, per operation (its document text and position in it), in a
bounded LRU: `OPERATIONS_CACHED` operations, each at most `SHAPES_PER_OPERATION` selection
set shapes (a document with many @include variables can have many); beyond that plans are
compiled per request and not kept. A shape is which field nodes (by position in the
document) made each response key, so the plan chosen always matches the fields graphql-core
collected with this request's variables. Documents parsed without locations are planned
per request.
"""

from __future__ import annotations

import inspect
import threading
from collections import OrderedDict
from enum import Enum
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.language import FieldNode
from graphql.type.scalars import serialize_boolean, serialize_id, serialize_int, serialize_string
from strawberry.types.field import StrawberryField

OPERATIONS_CACHED = 256
SHAPES_PER_OPERATION = 512

# How a field is executed (FieldPlan.kind).
STOCK = 0  # graphql-core's execute_field
TYPENAME = 1  # __typename of an object type: its name
LEAF = 2  # scalar or enum
OBJECT = 3  # object type with a sub-selection
LIST = 4  # list of leaves or of objects

_SELECTION_DIRECTIVES = frozenset({"include", "skip"})  # already applied by field collection


class FieldPlan:
    """What is known about one collected field before any row is seen."""

    __slots__ = (
        "accepts",
        "attr",
        "coerce",
        "field_def",
        "is_type_of",
        "item_kind",
        "item_nonnull",
        "item_type",
        "kind",
        "method",
        "nonnull",
        "object_type",
        "pass_info",
        "relation",
        "resolve",
        "return_type",
        "same",
    )

    def __init__(self, kind: int, field_def: GraphQLField | None = None) -> None:
        self.kind = kind
        self.field_def = field_def
        self.return_type: Any = field_def.type if field_def is not None else None
        self.nonnull = False
        self.resolve: Any = field_def.resolve if field_def is not None else None
        # strawberry's resolver of a field without resolver nor extensions ignores `info`
        self.pass_info = not getattr(self.resolve, "_is_default", False)
        self.attr = None if self.pass_info else _attribute_of(self.resolve)
        # a method resolver that takes only `self`: called as `method(source)`, no info object
        self.method: Any = _method_of(self.resolve) if self.pass_info else None
        if self.method is not None:
            self.pass_info = False
        self.relation: Any = _relation_of(field_def) if field_def is not None else None
        self.coerce: Any = None
        self.same: type | None = None  # values of this exact type the serializer returns as they are
        self.object_type: Any = None
        self.is_type_of: Any = None
        # classes whose (uncast) instances `is_type_of` accepted: strawberry's check is an
        # isinstance on the class unless the object carries a `strawberry.cast`, so the answer
        # for one uncast instance is the answer for all (see `accepts_object` in the executor)
        self.accepts: set[type] = set()
        self.item_kind = STOCK
        self.item_type: Any = None
        self.item_nonnull = False


def _attribute_of(resolve: Any) -> str | None:
    """The attribute strawberry's basic resolver reads, when reading it directly is the same thing.

    Its `_get_basic_result` calls `field.get_result(source, None, [], {})`, which for a field
    without resolver is `field.default_resolver(source, field.python_name)`: `getattr`
    unless configured otherwise. Three calls per field and row, for one `getattr`.
    """
    for cell in getattr(resolve, "__closure__", None) or ():
        field = cell.cell_contents
        if isinstance(field, StrawberryField):
            plain = type(field).get_result is StrawberryField.get_result
            if plain and field.base_resolver is None and field.default_resolver is getattr:
                return field.python_name
    return None


def _method_of(resolve: Any) -> Any:
    """The plain function behind strawberry's resolver, when calling it with the source alone is the
    same thing (`@strawberry.field def expected_revenue(self) -> Decimal`).

    Strawberry's `_resolver` builds an Info, converts no arguments, runs no extensions and calls
    `field.get_result(source, info, [source], {})`, which is `base_resolver(source)`: about fifteen
    calls per field and row. Only when every one of those steps is the identity: a synchronous
    resolver of `self` alone (no info, root or parent parameter, no arguments), on a field of the
    plain StrawberryField class with no extensions and no exception handlers.
    """
    if getattr(resolve, "__name__", "") != "_resolver":
        return None
    cells = _cells(resolve)
    handlers, make_info = cells.get("field_exception_handlers"), cells.get("_strawberry_info_from_graphql")
    if handlers is None or handlers or make_info is None:
        return None
    field = _cells(make_info).get("field")  # the field the resolver's Info is made for
    resolver = getattr(field, "base_resolver", None)
    if (
        not isinstance(field, StrawberryField)
        or type(field).get_result is not StrawberryField.get_result
        or resolver is None
        or field.is_async
        or field.extensions
        or field.arguments
        or resolver.arguments
        or resolver.self_parameter is None
        or resolver.info_parameter is not None
        or resolver.root_parameter is not None
        or resolver.parent_parameter is not None
    ):
        return None
    func = resolver.wrapped_func
    return func if inspect.isfunction(func) and not inspect.iscoroutinefunction(func) else None


def _cells(func: Any) -> dict[str, Any]:
    code = getattr(func, "__code__", None)
    if code is None:
        return {}
    return {
        name: cell.cell_contents for name, cell in zip(code.co_freevars, func.__closure__ or (), strict=True)
    }


def _relation_of(field_def: GraphQLField) -> Any:
    """The relation whose lean resolver graphql-core calls for this field, if any.

    That resolver is `relation.get(info.context.loaders, source)` and reads nothing else of
    `info` (app/graphql/relations.py), so the executor calls `relation.get` itself and
    builds no info object: one per related object of every row otherwise.
    """
    from app.graphql.registry import REL
    from app.graphql.relations import LEAN

    definition = (field_def.extensions or {}).get("strawberry-definition")
    metadata = getattr(definition, "metadata", None) or {}
    lean = metadata.get(LEAN)
    if lean is not None and lean is field_def.resolve:
        return metadata.get(REL)
    return None


# graphql-core's serializers that return a value of this exact type unchanged
_IDENTITY = {serialize_string: str, serialize_id: str, serialize_boolean: bool}


def _serialize_int(value: Any) -> Any:
    """graphql-core's Int serializer, with the common case (a Python int in 32 bits) first."""
    if type(value) is int and -2147483648 <= value <= 2147483647:
        return value
    return serialize_int(value)


# serializers replaced by one that answers the same, faster for the values rows hold
_FASTER = {serialize_int: _serialize_int}


def _is_strawberry_type_check(is_type_of: Any) -> bool:
    # strawberry's generated `is_type_of` is a synchronous isinstance check that ignores info
    return getattr(is_type_of, "__qualname__", "").endswith("_get_is_type_of.<locals>.is_type_of")


def _object_ok(t: GraphQLObjectType) -> bool:
    return t.is_type_of is None or _is_strawberry_type_check(t.is_type_of)


def _serializer(leaf: Any) -> Any:
    """The leaf type's serializer; an enum's remembers the name it gave each value.

    Strawberry's enum serializer compares the value with every member of the enum in turn, per
    value; the name it gives a value never changes, so after the first it is one dict lookup.
    Names are kept per exact class of the value (a `str` enum's member equals its plain string
    and hashes alike, so members and the plain strings read from rows get separate tables), and
    only for members of an `Enum` class and plain strings; a value it refuses is never kept.
    """
    coerce = leaf.coerce_output_value
    if not isinstance(leaf, GraphQLEnumType):
        return _FASTER.get(coerce, coerce)
    names: dict[type, dict[Any, Any]] = {}

    def serialize_enum(value: Any) -> Any:
        known = names.get(type(value))
        if known is not None:
            name = known.get(value)
            if name is not None:
                return name
        name = coerce(value)
        if (type(value) is str or isinstance(value, Enum)) and isinstance(name, str):
            names.setdefault(type(value), {})[value] = name
        return name

    return serialize_enum


def compile_field(schema: GraphQLSchema, parent_type: GraphQLObjectType, nodes: list[FieldNode]) -> FieldPlan:
    """The plan of one response key: the fast kind when every part of it is the plain case."""
    first = nodes[0]
    name = first.name.value
    if name == "__typename":
        return FieldPlan(TYPENAME)
    field_def = schema.get_field(parent_type, name)
    if field_def is None or field_def.args or first.arguments:
        return FieldPlan(STOCK, field_def)
    for node in nodes:
        for directive in node.directives or ():
            if directive.name.value not in _SELECTION_DIRECTIVES:
                return FieldPlan(STOCK, field_def)  # @stream, @defer and the like
    t = field_def.type
    plan = FieldPlan(STOCK, field_def)
    plan.nonnull = isinstance(t, GraphQLNonNull)
    inner = t.of_type if isinstance(t, GraphQLNonNull) else t
    if is_leaf_type(inner):
        plan.kind, plan.coerce = LEAF, _serializer(inner)
        plan.same = _IDENTITY.get(plan.coerce)
    elif is_object_type(inner) and _object_ok(inner):
        plan.kind, plan.object_type, plan.is_type_of = OBJECT, inner, inner.is_type_of
    elif isinstance(inner, GraphQLList):
        item = inner.of_type
        plan.item_type = item
        plan.item_nonnull = isinstance(item, GraphQLNonNull)
        named = item.of_type if isinstance(item, GraphQLNonNull) else item
        if is_leaf_type(named):
            plan.kind, plan.item_kind, plan.coerce = LIST, LEAF, _serializer(named)
            plan.same = _IDENTITY.get(plan.coerce)
        elif is_object_type(named) and _object_ok(named):
            plan.kind, plan.item_kind = LIST, OBJECT
            plan.object_type, plan.is_type_of = named, named.is_type_of
    return plan


def shape_of(parent_type: GraphQLObjectType, fields: GroupedFieldSet) -> tuple[Any, ...] | None:
    """The key of a collected selection set within its document: which nodes made each key."""
    parts: list[Any] = [parent_type.name]
    for key, details in fields.items():
        starts = []
        for detail in details:
            loc = detail.node.loc
            if loc is None:
                return None
            starts.append(loc.start)
        parts.append((key, tuple(starts)))
    return tuple(parts)


Plans = dict[tuple[Any, ...], tuple[FieldPlan, ...]]

_lock = threading.Lock()
_cache: WeakKeyDictionary[GraphQLSchema, OrderedDict[tuple[str, int], Plans]] = WeakKeyDictionary()


def keep(plans: Plans | None, shape: tuple[Any, ...] | None, field_plans: tuple[FieldPlan, ...]) -> None:
    """Cache the plans of one selection set shape, unless the operation has too many already."""
    if plans is not None and shape is not None and len(plans) < SHAPES_PER_OPERATION:
        plans[shape] = field_plans


def plans_of(schema: GraphQLSchema, operation: Any) -> Plans | None:
    """The cached plans of an operation (LRU per schema), or None when it has no location."""
    loc = operation.loc
    if loc is None:
        return None
    key = (loc.source.body, loc.start)
    with _lock:
        operations = _cache.get(schema)
        if operations is None:
            operations = _cache[schema] = OrderedDict()
        plans = operations.get(key)
        if plans is None:
            plans = operations[key] = {}
            if len(operations) > OPERATIONS_CACHED:
                operations.popitem(last=False)
        else:
            operations.move_to_end(key)
        return plans
