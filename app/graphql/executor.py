"""A compiled executor: graphql-core's own, with each selection set planned once.

graphql-core executes every field of every row through the same general machinery:
`execute_field` builds a `GraphQLResolveInfo` and a `Path`, checks for arguments and
middleware, then `complete_value` walks the return type (non-null, list, leaf, abstract,
object) one wrapper at a time. On a 1000-row page that is ~50,000 fields and ~100,000
completions per request, nearly all of them plain attributes serialized as scalars.

`CompiledExecutor` plans each collected selection set once: for every response key the
field definition, the resolver, whether the resolver needs an info object (strawberry's
"basic" attribute resolvers ignore it), the return type's shape and the leaf serializer.
Selection sets are then completed in one loop per object, lists of objects and leaves in
one loop per list, calling the same resolvers and serializers graphql-core would, in the
same order. Whatever is not the plain case takes graphql-core's own code *from that
point*, with the value already resolved (a resolver is never called twice):

- awaitable results (loader futures, async resolvers) go to `complete_awaitable_value`,
  so concurrency is exactly graphql-core's;
- null for a non-null type, exceptions returned as values, failed `is_type_of`, values
  that are not plain lists go to `complete_value`, which raises graphql-core's own errors;
- raised errors go to `handle_field_error` with the path graphql-core would have used, so
  null propagation and error paths and locations are the same;
- fields with arguments (strawberry converts them), abstract return types, lists of
  lists, fields carrying directives other than @include/@skip, and every field when
  middleware is installed are executed by `execute_field` itself.

@include/@skip need nothing here: graphql-core collects the fields per execution with the
request's variable values, and the plan is looked up by the collected set's shape (which
fields survived), so a plan never outlives the variables it was chosen for.

Plans are cached per schema, per operation (its document text and position in it), in a
bounded LRU: `OPERATIONS_CACHED` operations, each at most `SHAPES_PER_OPERATION` selection
set shapes (a document with many @include variables can have many); beyond that plans are
compiled per request and not kept. Documents parsed without locations are planned per
request. tests/test_executor_differential.py proves equality with stock graphql-core.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Awaitable, Iterable
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import collect_iterator_awaitables
from graphql.language import FieldNode
from graphql.pyutils import Path, Undefined, gather_with_cancel
from graphql.type.scalars import serialize_boolean, serialize_id, serialize_string
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
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
        "attr",
        "coerce",
        "field_def",
        "is_type_of",
        "item_kind",
        "item_nonnull",
        "item_type",
        "kind",
        "nonnull",
        "object_type",
        "pass_info",
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
        self.coerce: Any = None
        self.same: type | None = None  # values of this exact type the serializer returns as they are
        self.object_type: Any = None
        self.is_type_of: Any = None
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


# graphql-core's serializers that return a value of this exact type unchanged
_IDENTITY = {serialize_string: str, serialize_id: str, serialize_boolean: bool}


def _is_strawberry_type_check(is_type_of: Any) -> bool:
    # strawberry's generated `is_type_of` is a synchronous isinstance check that ignores info
    return getattr(is_type_of, "__qualname__", "").endswith("_get_is_type_of.<locals>.is_type_of")


def _object_ok(t: GraphQLObjectType) -> bool:
    return t.is_type_of is None or _is_strawberry_type_check(t.is_type_of)


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
        plan.kind, plan.coerce = LEAF, inner.coerce_output_value  # type: ignore[union-attr]
        plan.same = _IDENTITY.get(plan.coerce)
    elif is_object_type(inner) and _object_ok(inner):  # type: ignore[arg-type]
        plan.kind, plan.object_type, plan.is_type_of = OBJECT, inner, inner.is_type_of  # type: ignore[union-attr]
    elif isinstance(inner, GraphQLList):
        item = inner.of_type
        plan.item_type = item
        plan.item_nonnull = isinstance(item, GraphQLNonNull)
        named = item.of_type if isinstance(item, GraphQLNonNull) else item
        if is_leaf_type(named):
            plan.kind, plan.item_kind, plan.coerce = LIST, LEAF, named.coerce_output_value
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


class Step:
    """One response key of one collected selection set, bound to this execution."""

    __slots__ = ("fields", "key", "nodes", "plan", "resolve")

    def __init__(self, key: str, fields: FieldDetailsList, plan: FieldPlan, default: Any) -> None:
        self.key = key
        self.fields = fields
        self.nodes = [detail.node for detail in fields]
        self.plan = plan
        self.resolve = plan.resolve or default


class CompiledExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor with planned selection sets (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        middleware = self.middleware_manager
        # any middleware wraps every resolver: then every field takes graphql-core's path
        self._fast = middleware is None or middleware._middleware_resolvers is None
        self._plans = plans_of(self.schema, self.operation) if self._fast else None
        self._steps: dict[int, tuple[GroupedFieldSet, tuple[Step, ...]]] = {}

    def steps_of(self, parent_type: GraphQLObjectType, fields: GroupedFieldSet) -> tuple[Step, ...]:
        # graphql-core memoizes collected sub-selections per execution, so the same
        # grouped field set comes back for every row of a list: bind it once.
        bound = self._steps.get(id(fields))
        if bound is not None and bound[0] is fields:
            return bound[1]
        plans, shape = self._plans, shape_of(parent_type, fields)
        field_plans = plans.get(shape) if plans is not None and shape is not None else None
        if field_plans is None:
            schema = self.schema
            field_plans = tuple(
                compile_field(schema, parent_type, [d.node for d in details]) for details in fields.values()
            )
            if plans is not None and shape is not None and len(plans) < SHAPES_PER_OPERATION:
                plans[shape] = field_plans
        default = self.field_resolver
        steps = tuple(
            Step(key, details, plan, default)
            for (key, details), plan in zip(fields.items(), field_plans, strict=True)
        )
        self._steps[id(fields)] = (fields, steps)  # holding `fields` keeps its id unique
        return steps

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        if not self._fast:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        type_name = parent_type.name
        try:
            for step in self.steps_of(parent_type, grouped_field_set):
                key, plan = step.key, step.plan
                kind = plan.kind
                if kind == TYPENAME:
                    results[key] = type_name
                    continue
                attr = plan.attr
                if attr is not None and kind == LEAF:  # the bulk of every page: a plain column
                    try:
                        value = getattr(source_value, attr)
                    except Exception as raw_error:
                        self.handle_field_error(
                            raw_error, plan.return_type, step.fields, Path(path, key, type_name)
                        )
                        results[key] = None
                        continue
                    if value is None:
                        if not plan.nonnull:
                            results[key] = None
                            continue
                    elif type(value) is plan.same:
                        results[key] = value
                        continue
                    result = self.complete_planned(
                        step, plan, parent_type, Path(path, key, type_name), value, position_context, None
                    )
                    results[key] = result
                    if is_awaitable(result):
                        awaitable_fields.append(key)
                    continue
                field_path = Path(path, key, type_name)
                if kind == STOCK:
                    result = self.execute_field(
                        parent_type, source_value, step.fields, field_path, position_context
                    )
                    if result is Undefined:
                        continue
                else:
                    result = self.run_field(
                        step, plan, parent_type, source_value, field_path, position_context
                    )
                results[key] = result
                if is_awaitable(result):
                    awaitable_fields.append(key)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise

        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def run_field(
        self,
        step: Step,
        plan: FieldPlan,
        parent_type: GraphQLObjectType,
        source: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        """Resolve and complete one planned field, as `execute_field` would."""
        info = (
            self.build_resolve_info(plan.field_def, step.nodes, parent_type, path) if plan.pass_info else None
        )  # type: ignore[arg-type]
        attr = plan.attr
        try:
            value = getattr(source, attr) if attr is not None else step.resolve(source, info)
        except Exception as raw_error:
            self.handle_field_error(raw_error, plan.return_type, step.fields, path)
            return None
        return self.complete_planned(step, plan, parent_type, path, value, position_context, info)

    def complete_planned(
        self,
        step: Step,
        plan: FieldPlan,
        parent_type: GraphQLObjectType,
        path: Path,
        value: Any,
        position_context: Any,
        info: GraphQLResolveInfo | None,
    ) -> Any:
        """`complete_value` of a resolved value, in one step for the plain cases."""
        kind = plan.kind
        if value is None:
            if not plan.nonnull:
                return None
        elif isinstance(value, Exception) or self.is_awaitable(value):
            pass
        elif kind == LEAF:
            try:
                coerced = plan.coerce(value)
            except Exception as raw_error:
                self.handle_field_error(raw_error, plan.return_type, step.fields, path)
                return None
            if coerced is not None and coerced is not Undefined:
                return coerced
        elif (kind == OBJECT and (plan.is_type_of is None or plan.is_type_of(value, None))) or (
            kind == LIST and type(value) in (list, tuple)
        ):
            try:
                if kind == OBJECT:
                    completed = self.complete_object(
                        plan.object_type, step.fields, path, value, position_context
                    )
                else:
                    completed = self.complete_items(step, plan, parent_type, path, value, position_context)
            except Exception as raw_error:
                self.handle_field_error(raw_error, plan.return_type, step.fields, path)
                return None
            if self.is_awaitable(completed):
                return self.await_field(completed, plan.return_type, step.fields, path)
            return completed
        return self.complete_stock(step, plan, parent_type, path, value, position_context, info)

    def complete_stock(
        self,
        step: Step,
        plan: FieldPlan,
        parent_type: GraphQLObjectType,
        path: Path,
        value: Any,
        position_context: Any,
        info: GraphQLResolveInfo | None,
    ) -> Any:
        """graphql-core's completion of a resolved value (the tail of `execute_field`)."""
        if info is None:
            info = self.build_resolve_info(plan.field_def, step.nodes, parent_type, path)  # type: ignore[arg-type]
        return_type = plan.return_type
        try:
            if self.is_awaitable(value):
                return self.complete_awaitable_value(
                    return_type, step.fields, info, path, value, position_context
                )
            completed = self.complete_value(return_type, step.fields, info, path, value, position_context)
            if self.is_awaitable(completed):
                return self.await_field(completed, return_type, step.fields, path)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, step.fields, path)
            return None
        return completed

    def complete_object(
        self,
        object_type: GraphQLObjectType,
        fields: FieldDetailsList,
        path: Path,
        value: Any,
        position_context: Any,
    ) -> Any:
        """`collect_and_execute_subfields`, straight to `execute_fields` without incremental delivery."""
        sub_fields, defer_usages, _ = self.collect_subfields(object_type, fields)
        if position_context is None and not defer_usages:
            return self.execute_fields(object_type, value, path, sub_fields, None)
        return self.execute_collected_subfields(
            object_type, value, path, sub_fields, defer_usages, position_context
        )

    async def await_field(
        self, completed: Awaitable[Any], return_type: GraphQLOutputType, fields: FieldDetailsList, path: Path
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, fields, path)
            return None

    def complete_items(
        self,
        step: Step,
        plan: FieldPlan,
        parent_type: GraphQLObjectType,
        path: Path,
        items: Iterable[Any],
        position_context: Any,
    ) -> Any:
        """`complete_iterable_value` for a list of leaves or objects, item by item in one loop."""
        is_awaitable = self.is_awaitable
        fields, item_type, item_nonnull = step.fields, plan.item_type, plan.item_nonnull
        leaves = plan.item_kind == LEAF
        coerce, same, object_type, is_type_of = plan.coerce, plan.same, plan.object_type, plan.is_type_of
        completed: list[Any] = []
        append = completed.append
        awaitable_indices: list[int] = []
        info: GraphQLResolveInfo | None = None
        iterator = iter(items)
        index = -1
        try:
            for item in iterator:
                index += 1
                item_path = Path(path, index, None)
                if item is None:
                    if not item_nonnull:
                        append(None)
                        continue
                elif leaves and type(item) is same:
                    append(item)
                    continue
                elif isinstance(item, Exception) or is_awaitable(item):
                    pass
                elif leaves:
                    try:
                        coerced = coerce(item)
                    except Exception as raw_error:
                        self.handle_field_error(raw_error, item_type, fields, item_path)
                        append(None)
                        continue
                    if coerced is not None and coerced is not Undefined:
                        append(coerced)
                        continue
                elif is_type_of is None or is_type_of(item, None):
                    try:
                        sub = self.complete_object(object_type, fields, item_path, item, position_context)
                    except Exception as raw_error:
                        self.handle_field_error(raw_error, item_type, fields, item_path)
                        append(None)
                        continue
                    if is_awaitable(sub):
                        append(self.await_field(sub, item_type, fields, item_path))
                        awaitable_indices.append(index)
                    else:
                        append(sub)
                    continue
                # not the plain case: graphql-core's own completion of this item
                if info is None:
                    info = self.build_resolve_info(plan.field_def, step.nodes, parent_type, path)  # type: ignore[arg-type]
                if is_awaitable(item):
                    append(
                        self.complete_awaitable_list_item_value(
                            item, item_type, fields, info, item_path, position_context
                        )
                    )
                    awaitable_indices.append(index)
                elif self.complete_list_item_value(
                    item, completed, item_type, fields, info, item_path, position_context
                ):
                    awaitable_indices.append(index)
        except Exception:
            pending = [completed[i] for i in awaitable_indices]
            pending.extend(collect_iterator_awaitables(iterator, is_awaitable))
            if pending:
                self.settle_in_background(pending)
            raise

        if not awaitable_indices:
            return completed

        async def get_completed_results() -> list[Any]:
            if len(awaitable_indices) == 1:
                at = awaitable_indices[0]
                completed[at] = await completed[at]
            else:
                awaited = await gather_with_cancel(*(completed[i] for i in awaitable_indices))
                for at, value in zip(awaitable_indices, awaited, strict=True):
                    completed[at] = value
            return completed

        return get_completed_results()
