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

The methods overridden and mirrored are graphql-core 3.3's `Executor.execute_fields`, the
tail of `execute_field` and `complete_iterable_value`; tests/test_executor.py and
tests/test_executor_differential.py compare every result with stock graphql-core, which
is what catches a drift on upgrade. Plans and their cache: app/graphql/field_plans.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextvars import Token
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from graphql import GraphQLObjectType, GraphQLOutputType, GraphQLResolveInfo
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import collect_iterator_awaitables
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE

from app.graphql import reads
from app.graphql.field_plans import (
    LEAF,
    LIST,
    OBJECT,
    STOCK,
    TYPENAME,
    FieldPlan,
    compile_field,
    keep,
    plans_of,
    shape_of,
)

# Values of these exact types are neither awaitable nor exceptions: no need to ask
# `is_awaitable` (a call per value) before serializing or storing them.
_INERT = frozenset({type(None), bool, int, float, str, bytes, list, tuple, dict, Decimal, datetime, date})
# The schema's object classes seen so far whose values are neither awaitable nor exceptions. Both
# follow from the class for them (`__await__` and exception-ness are looked up on the type; only
# generators are awaitable per instance, and they are no strawberry type), so once one instance
# of a class was checked, the rest of a 1000-row page is not asked again: a set lookup, not
# `isinstance` plus strawberry's `is_awaitable` per object.
_PLAIN_OBJECTS: set[type] = set()


# graphql-core's Path is a NamedTuple, whose generated `__new__` is a Python function: one call per
# relation field and list item. `tuple.__new__` made partial makes the same object in C.
new_path: Callable[[tuple[Any, Any, Any]], Path] = partial(tuple.__new__, Path)


def _learn_plain(value: Any) -> None:
    cls = type(value)
    if hasattr(cls, "__strawberry_definition__") and not issubclass(cls, BaseException):
        _PLAIN_OBJECTS.add(cls)


def accepts_object(plan: FieldPlan, value: Any) -> bool:
    """`plan.is_type_of(value)`, asked once per class of uncast objects instead of per object.

    `plan.accepts` holds classes whose instances keep their attributes in `__dict__`, where
    `strawberry.cast` puts its mark: a dict lookup, where `getattr` with a default would
    raise and catch an AttributeError inside for every uncast object."""
    is_type_of = plan.is_type_of
    if is_type_of is None:
        return True
    cls = type(value)
    if cls in plan.accepts and TYPE_CAST_ATTRIBUTE not in value.__dict__:
        return True
    if not is_type_of(value, None):
        return False
    if isinstance(getattr(value, "__dict__", None), dict) and TYPE_CAST_ATTRIBUTE not in value.__dict__:
        plan.accepts.add(cls)
    return True


def _leaves_only(steps: tuple[Step, ...]) -> bool:
    """Whether a selection's completion depends on its object alone: `__typename`, and leaves (or
    lists of leaves) read as attributes or from methods of `self` that take no info."""
    for step in steps:
        plan = step.plan
        if plan.kind == TYPENAME:
            continue
        leaf = plan.kind == LEAF or (plan.kind == LIST and plan.item_kind == LEAF)
        if leaf and (plan.attr is not None or plan.method is not None):
            continue
        return False
    return True


class Step:
    """One response key of one collected selection set, bound to this execution."""

    __slots__ = ("fields", "key", "nodes", "plan", "resolve", "sub")

    def __init__(self, key: str, fields: FieldDetailsList, plan: FieldPlan, default: Any) -> None:
        self.key = key
        self.fields = fields
        self.nodes = [detail.node for detail in fields]
        self.plan = plan
        self.resolve = plan.resolve or default
        # the sub-selection of an object field, collected and bound at its first object: the
        # same for every object of a list (graphql-core memoizes it on `fields` too)
        self.sub: tuple[GroupedFieldSet, Any, tuple[Step, ...] | None, bool] | None = None


class CompiledExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor with planned selection sets (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        middleware = self.middleware_manager
        # any middleware wraps every resolver: then every field takes graphql-core's path
        self._fast = middleware is None or middleware._middleware_resolvers is None
        self._plans = plans_of(self.schema, self.operation) if self._fast else None
        self._steps: dict[int, tuple[GroupedFieldSet, tuple[Step, ...]]] = {}
        # completed leaf-only selections, by (object, selection): see `complete_object`
        self._completed: dict[tuple[int, int], tuple[Any, dict[str, Any]]] = {}
        self._field_errors = 0  # errors handled so far (a completion that saw one is not kept)
        # relation fields read only `info.context.loaders`: called with these directly
        self._loaders = getattr(self.context_value, "loaders", None)
        # the columns this operation reads, for the statements its loaders and lists build
        self._reads: Token[Any] | None = reads.current.set(
            reads.plan(self.schema, self.operation, self.fragment_definitions)
        )

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
            keep(plans, shape, field_plans)
        default = self.field_resolver
        steps = tuple(
            Step(key, details, plan, default)
            for (key, details), plan in zip(fields.items(), field_plans, strict=True)
        )
        self._steps[id(fields)] = (fields, steps)  # holding `fields` keeps its id unique
        return steps

    def build_response(self, data: dict[str, Any] | None) -> Any:
        # This context is cyclic garbage once the response is built (its bound methods and
        # resolve infos point back at it), and the kept completions hold every object they
        # completed: dropped here, reference counting frees them now, not the next collection
        # (measured on a 1000-row page: ~6k objects left to the collector otherwise).
        self._completed.clear()
        self._steps.clear()
        self._relevant_sub_fields.clear()  # graphql-core's memo of collected sub-selections
        # the plan was this operation's; what runs after it (deferred parts) reads everything
        token, self._reads = self._reads, None
        if token is not None:  # a subscription builds a response per event: reset once
            try:
                reads.current.reset(token)
            except (ValueError, RuntimeError):  # another context, or a copy of this one reset it
                reads.current.set(None)
        return super().build_response(data)

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
        return self.run_steps(
            parent_type, source_value, path, self.steps_of(parent_type, grouped_field_set), position_context
        )

    def run_steps(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        steps: tuple[Step, ...],
        position_context: Any,
    ) -> Any:
        """`execute_fields` over a bound selection set."""
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        type_name = parent_type.name
        try:
            for step in steps:
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
                            raw_error, plan.return_type, step.fields, new_path((path, key, type_name))
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
                    elif type(value) in _INERT:
                        try:
                            coerced = plan.coerce(value)
                        except Exception as raw_error:
                            self.handle_field_error(
                                raw_error, plan.return_type, step.fields, new_path((path, key, type_name))
                            )
                            results[key] = None
                            continue
                        if coerced is not None and coerced is not Undefined:
                            results[key] = coerced
                            continue
                    result = self.complete_planned(
                        step,
                        plan,
                        parent_type,
                        new_path((path, key, type_name)),
                        value,
                        position_context,
                        None,
                    )
                    results[key] = result
                    if is_awaitable(result):
                        awaitable_fields.append(key)
                    continue
                field_path = new_path((path, key, type_name))
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
                if type(result) not in _INERT and is_awaitable(result):
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
        relation, loaders = plan.relation, self._loaders
        if relation is not None and loaders is not None:
            # the lean relation resolver is `relation.get(info.context.loaders, source)`
            try:
                value = relation.get(loaders, source)
            except Exception as raw_error:
                self.handle_field_error(raw_error, plan.return_type, step.fields, path)
                return None
            return self.complete_planned(step, plan, parent_type, path, value, position_context, None)
        info = (
            self.build_resolve_info(plan.field_def, step.nodes, parent_type, path)
            if plan.pass_info and plan.field_def is not None
            else None
        )
        attr, method = plan.attr, plan.method
        try:
            if attr is not None:
                value = getattr(source, attr)
            elif method is not None:
                value = method(source)
            else:
                value = step.resolve(source, info)
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
        elif type(value) not in _PLAIN_OBJECTS and (isinstance(value, Exception) or self.is_awaitable(value)):
            pass
        elif kind == LEAF:
            try:
                coerced = plan.coerce(value)
            except Exception as raw_error:
                self.handle_field_error(raw_error, plan.return_type, step.fields, path)
                return None
            if coerced is not None and coerced is not Undefined:
                return coerced
        elif (kind == OBJECT and accepts_object(plan, value)) or (
            kind == LIST and type(value) in (list, tuple)
        ):
            try:
                if kind == OBJECT:
                    if type(value) not in _PLAIN_OBJECTS:
                        _learn_plain(value)
                    completed = self.complete_object(step, path, value, position_context)
                else:
                    completed = self.complete_items(step, plan, parent_type, path, value, position_context)
            except Exception as raw_error:
                self.handle_field_error(raw_error, plan.return_type, step.fields, path)
                return None
            if type(completed) not in _INERT and self.is_awaitable(completed):
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

    def handle_field_error(
        self,
        raw_error: Exception,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> None:
        self._field_errors += 1
        super().handle_field_error(raw_error, return_type, field_details_list, path)

    def complete_object(self, step: Step, path: Path, value: Any, position_context: Any) -> Any:
        """`collect_and_execute_subfields`, straight to the bound steps without incremental delivery.

        The same object is often selected the same way many times in one response: a page's
        deals share a few stages and owners, their custom field values a few definitions. When
        the selection holds only leaves read from the object itself (attributes, enums, methods
        of `self` alone: nothing that sees its path or info), its completion depends on the
        object alone, so the first completion is kept for this execution and reused: one dict
        per distinct object, not per occurrence. A completion that handled an error is never
        kept (its error belongs to its own path), nor one that is not plain (awaitable).
        """
        object_type = step.plan.object_type
        sub = step.sub
        if sub is None:
            sub_fields, defer_usages, _ = self.collect_subfields(object_type, step.fields)
            steps = None if defer_usages else self.steps_of(object_type, sub_fields)
            sub = step.sub = (sub_fields, defer_usages, steps, steps is not None and _leaves_only(steps))
        sub_fields, defer_usages, steps, leaves_only = sub
        if position_context is None and steps is not None:
            if not leaves_only:
                return self.run_steps(object_type, value, path, steps, None)
            key = (id(value), id(steps))
            kept = self._completed.get(key)
            if kept is not None and kept[0] is value:
                return kept[1]
            errors = self._field_errors
            completed = self.run_steps(object_type, value, path, steps, None)
            if type(completed) is dict and self._field_errors == errors:
                self._completed[key] = (value, completed)  # holding `value` keeps its id unique
            return completed
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
        is_awaitable, plain = self.is_awaitable, _PLAIN_OBJECTS
        fields, item_type, item_nonnull = step.fields, plan.item_type, plan.item_nonnull
        leaves = plan.item_kind == LEAF
        coerce, same, is_type_of = plan.coerce, plan.same, plan.is_type_of
        completed: list[Any] = []
        append = completed.append
        awaitable_indices: list[int] = []
        info: GraphQLResolveInfo | None = None
        iterator = iter(items)
        index = -1
        try:
            for item in iterator:
                index += 1
                item_path = new_path((path, index, None))
                if item is None:
                    if not item_nonnull:
                        append(None)
                        continue
                elif leaves and type(item) is same:
                    append(item)
                    continue
                elif type(item) not in plain and (isinstance(item, Exception) or is_awaitable(item)):
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
                elif is_type_of is None or accepts_object(plan, item):
                    if type(item) not in plain:
                        _learn_plain(item)
                    try:
                        sub = self.complete_object(step, item_path, item, position_context)
                    except Exception as raw_error:
                        self.handle_field_error(raw_error, item_type, fields, item_path)
                        append(None)
                        continue
                    if type(sub) is not dict and is_awaitable(sub):
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
