"""The columns an operation reads: each entity's statements select those, not every column.

A board selects nine of a deal's 42 columns, three of a customer's; selecting all of them costs
PostgreSQL's CPU, asyncpg's decoding, the result processors (a correlated subquery for an
item's base rate) and the objects' size, per row. So once per (document, operation) the
compiled executor (app/graphql/executor.py) walks the operation's selections, fragments
included, and plans per entity the columns its selected fields read:

- a plain field reads its own column;
- a relation field reads the owner's foreign keys, which every plan keeps (so does the
  prefetch plan, and a relation's hops), with the primary key and the organization;
- a computed field reads what its `READS` metadata names (columns of its own type), and the
  whole of the entities its `NEEDS` relations reach; a computed field of another type (root
  lists and objects, connections) is planned only when it declares `READS` too.

Correctness never rests on a guess: an operation that selects a computed field without `READS`,
a field of an abstract type other than `id`, or that is not a query, plans nothing, and every
statement selects every column, as it does under the stock executor (tests/
test_executor_differential.py compares both over random operations on the whole schema). Loaders
and root lists key their statements by the columns they select, so objects of different plans
(the operations of one batched request run at once) never share a cache.
"""

from __future__ import annotations

import inspect
import threading
from collections import OrderedDict
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
)

from app.graphql import registry
from app.graphql.common import READS

# Per entity name, the names of the columns the running operation reads; None: every column.
# Set by the executor for each operation (a context variable: the operations of a batch run
# in tasks of their own), read by the loaders and root lists when they build a statement.
current: ContextVar[Mapping[str, frozenset[str]] | None] = ContextVar("reads", default=None)


class _Unplanned(Exception):
    """The operation selects something whose reads are not declared: select every column."""


def plan(
    schema: GraphQLSchema, operation: Any, fragments: Mapping[str, FragmentDefinitionNode]
) -> Mapping[str, frozenset[str]] | None:
    """The columns `operation` reads per entity (cached per document and operation), or None."""
    loc = operation.loc
    if operation.operation is not OperationType.QUERY or loc is None:
        return None
    key = (id(schema), loc.source.body, loc.start)
    with _lock:
        if key in _plans:
            _plans.move_to_end(key)
            return _plans[key]
    try:
        needed = _Walk(schema, fragments).operation(operation)
    except _Unplanned:
        made = None
    else:
        made = {name: frozenset(columns) for name, columns in needed.items()}
    with _lock:
        _plans[key] = made
        if len(_plans) > PLANS_KEPT:
            _plans.popitem(last=False)
    return made


PLANS_KEPT = 512
_plans: OrderedDict[tuple[Any, ...], Mapping[str, frozenset[str]] | None] = OrderedDict()
_lock = threading.Lock()


def columns(e: registry.Entity) -> tuple[tuple[Any, ...], frozenset[str] | None]:
    """The columns of `e` the running operation reads, and their names (None: all of them).

    Asked per row by relation fields (a loader is found by its columns): the selection is
    made once per entity and column set, then looked up."""
    reads = current.get()
    names = None if reads is None else reads.get(e.name)
    if names is None:
        return e.columns, None
    key = (e.name, names)
    made = _COLUMNS.get(key)
    if made is None:
        if len(_COLUMNS) >= PLANS_KEPT * 8:
            _COLUMNS.clear()
        made = _COLUMNS[key] = tuple(c for c in e.columns if c.key in names)
    return made, names


_COLUMNS: dict[tuple[str, frozenset[str]], tuple[Any, ...]] = {}


class _Walk:
    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments
        self.needed: dict[str, set[str]] = {}
        self.whole: set[str] = set()  # entities a computed field reaches through NEEDS
        self.seen: set[tuple[str, int]] = set()

    def operation(self, operation: Any) -> dict[str, set[str]]:
        root = self.schema.query_type
        assert root is not None
        self.selections(root, operation.selection_set)
        return {name: cols for name, cols in self.needed.items() if name not in self.whole}

    def selections(self, parent: Any, selection_set: SelectionSetNode) -> None:
        key = (parent.name, id(selection_set))
        if key in self.seen:  # a fragment spread twice at one type: walked once
            return
        self.seen.add(key)
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self.field(parent, selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = parent if condition is None else self.schema.get_type(condition.name.value)
                self.selections(target, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                target = self.schema.get_type(fragment.type_condition.name.value)
                self.selections(target, fragment.selection_set)

    def field(self, parent: Any, node: FieldNode) -> None:
        name = node.name.value
        if name.startswith("__"):
            return  # __typename: no column
        if is_abstract_type(parent):
            if name == "id":
                return  # every plan keeps the primary key
            raise _Unplanned
        assert isinstance(parent, GraphQLObjectType)
        field_def = parent.fields[name]
        field = field_def.extensions.get("strawberry-definition")
        e = _ENTITIES_BY_TYPE_NAME.get(parent.name)
        if e is not None:
            self.entity_field(e, field)
        elif field is None or (field.base_resolver is not None and READS not in (field.metadata or {})):
            # a computed field of another type (a root field, a payload) may read any entity's
            # objects: only the declared ones (root lists, connections, relations) are planned
            raise _Unplanned
        if node.selection_set is not None:
            self.selections(get_named_type(field_def.type), node.selection_set)

    def entity_field(self, e: registry.Entity, field: Any) -> None:
        if field is None:
            raise _Unplanned
        cols = self.needed.setdefault(e.name, set(_always(e)))
        python_name = field.python_name
        if python_name == "id" or python_name in e.relations:
            return  # the primary key; a relation's foreign keys (always kept)
        if field.base_resolver is None:
            if python_name not in _names(e):
                raise _Unplanned  # an attribute that is no column
            cols.add(python_name)
            return
        meta = field.metadata or {}
        if READS not in meta:
            raise _Unplanned
        cols.update(meta[READS])
        for relation in meta.get(registry.NEEDS, ()):
            self.whole.add(e.relations[relation].entity.name)


def _names(e: registry.Entity) -> frozenset[str]:
    return frozenset(c.key for c in e.columns)


def _always(e: registry.Entity) -> frozenset[str]:
    """What every plan of `e` keeps: its primary key, organization and foreign keys."""
    table = e.model.__table__
    kept = {c.key for c in table.columns if c.primary_key or c.foreign_keys}
    return frozenset(kept & _names(e))


def _plannable(e: registry.Entity) -> bool:
    # a type with a `from_row(row)` of its own may read any column of the row: never planned
    return "fields" in inspect.signature(e.type.from_row).parameters  # type: ignore[attr-defined]


class _ByTypeName(dict[str, registry.Entity]):
    """Entities by GraphQL type name, read from the registry when first asked (it fills at import)."""

    def get(self, name: str, default: Any = None) -> Any:
        if not self:
            for e in registry.ENTITIES.values():
                if _plannable(e):
                    self[e.type.__strawberry_definition__.name] = e  # type: ignore[attr-defined]
            self["\0"] = None  # type: ignore[assignment]  # filled, even if nothing is plannable
        return super().get(name, default)


_ENTITIES_BY_TYPE_NAME = _ByTypeName()
