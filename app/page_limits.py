"""A connection's arguments refused before anything runs: the list resolver's own checks, early.

A connection's `orderBy` (no key twice, at most five), `first`/`last`/`offset` (signs, the
maximum page size, the combinations), `after`/`before` (a cursor this API issued) and
`filter` (what compiling it refuses: contradictory operators, over-long lists and texts)
are refused by the list resolver when it runs. In a mutation's payload that is after the
write committed: the caller was told "refused" about a write that happened. So the same
checks run first, on the document:

- arguments written as literals in the validation pass (`page_rule`, one class per
  schema, so strawberry's ValidationCache keeps its verdict per document, which is right:
  it depends on nothing else);
- arguments that name variables once per request with that request's coerced variables
  (`refuse_pages`, called by `execution_limits` before execution starts, like the cost);
  a query's variable filters are left to its resolver (a query writes nothing, and
  converting a filter input twice would cost every list request about a millisecond).

The refusals are the resolver's exceptions turned into GraphQL errors, so the code, message
and `extensions` are exactly the resolver's; it keeps its checks as a defence in depth.
Two stay at run time only: which ordering a cursor was issued for (it needs the list's sort
keys, its entity's columns and default order) and filter checks that read the database
(a custom field filter against its definition's type).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import SimpleNamespace
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_operation_ast,
    value_from_ast,
)
from graphql.execution.values import get_variable_values
from graphql.language import ValueNode
from strawberry.types.arguments import convert_arguments

from app.errors import GatewayError
from app.graphql.lists import check_order
from app.query.filters import compile_filter
from app.query.order import read_cursor
from app.query.pages import PageArgs, check_page

# the arguments every connection takes; the list resolver refuses what is wrong with them
CHECKED = ("filter", "orderBy", "first", "after", "last", "before", "offset")


def _is_connection(field: GraphQLField) -> bool:
    return "first" in field.args and "after" in field.args


def _variables(value: ValueNode) -> Iterator[str]:
    """The names of the variables a value mentions, anywhere inside it."""
    if isinstance(value, VariableNode):
        yield value.name.value
    elif isinstance(value, ListValueNode):
        for item in value.values:
            yield from _variables(item)
    elif isinstance(value, ObjectValueNode):
        for entry in value.fields:
            yield from _variables(entry.value)


def _checked(arguments: Iterable[ArgumentNode] | None) -> Iterator[ArgumentNode]:
    return (a for a in arguments or () if a.name.value in CHECKED)


def _value(arg: ArgumentNode | None, field: GraphQLField, variables: Mapping[str, Any] | None) -> Any:
    """The argument's coerced value; None when absent, null, not yet known or not coercible.

    Not coercible (a literal 2^31, say) is left to graphql-core's own rule or coercion,
    which refuses it with BAD_USER_INPUT; so a missing value never makes a refusal here.
    """
    if arg is None:
        return None
    if variables is None and any(_variables(arg.value)):
        return None  # validation: the value is not known yet; refuse_pages checks it
    value = value_from_ast(arg.value, field.args[arg.name.value].type, dict(variables or {}))
    return None if value is Undefined else value


def refusal(
    schema: GraphQLSchema,
    node: FieldNode,
    field: GraphQLField,
    max_page_size: int,
    variables: Mapping[str, Any] | None,
    *,
    filters: bool = True,
) -> GraphQLError | None:
    """The list resolver's refusal of this connection field's arguments, in its order."""
    args = {a.name.value: a for a in _checked(node.arguments)}
    values = {name: _value(arg, field, variables) for name, arg in args.items()}
    try:
        order_by = values.get("orderBy")
        if order_by:
            check_order([SimpleNamespace(field=key["field"]) for key in order_by])
        page = PageArgs(*(values.get(name) for name in ("first", "after", "last", "before", "offset")))
        check_page(page, max_page_size)
        for name, cursor in (("after", page.after), ("before", page.before)):
            if cursor is not None:
                read_cursor(cursor, name)
        if filters and values.get("filter") is not None:
            compile_filter(_as_resolved(schema, field, "filter", values["filter"]))
    except GatewayError as refused:
        culprit = args.get(str(refused.extensions.get("argument")), node)
        return GraphQLError(str(refused), culprit, extensions=refused.extensions)
    return None


def _as_resolved(schema: GraphQLSchema, field: GraphQLField, name: str, value: Any) -> Any:
    """An argument's value as the resolver gets it: strawberry's own conversion (to the
    filter input classes the compiler reads)."""
    strawberry_schema = schema._strawberry_schema  # type: ignore[attr-defined]
    definition = field.extensions["strawberry-definition"]
    converted = convert_arguments(
        {name: value},
        definition.arguments,
        strawberry_schema.schema_converter.scalar_registry,
        strawberry_schema.config,
    )
    return next(iter(converted.values()))


class _PageArguments(ValidationRule):
    """Literal arguments, at validation (one pass shared with graphql-core's own rules)."""

    max_page_size = 0  # set by page_rule

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        field = self.context.get_field_def()
        if field is not None and _is_connection(field):
            error = refusal(self.context.schema, node, field, self.max_page_size, None)
            if error is not None:
                self.report_error(error)


def page_rule(max_page_size: int) -> type[ValidationRule]:
    """The validation rule: literal page arguments of every connection in the document."""
    return type("PageArguments", (_PageArguments,), {"max_page_size": max_page_size})


def refuse_pages(
    schema: GraphQLSchema,
    document: DocumentNode,
    max_page_size: int,
    raw_variables: Mapping[str, Any],
    operation_name: str | None,
) -> list[GraphQLError]:
    """Refusals of the page arguments that name variables, with this request's values.

    Only the operation that runs and the fragments it spreads are checked; the walks are
    plain loops (graphql-core's visitor took ~0.5 ms for a small mutation, every request).
    Variables that do not coerce are not judged here: execution refuses them itself.
    """
    operation = get_operation_ast(document, operation_name)
    if not isinstance(operation, OperationDefinitionNode) or not operation.variable_definitions:
        return []
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    definitions = [operation, *_spread_by(operation, fragments)]
    # A query writes nothing, and its resolver compiles the filter anyway: compiling a
    # variable filter twice (strawberry's conversion of a filter input costs ~1-3 ms) is
    # only worth it where a refusal after the fact would follow a committed write.
    filters = operation.operation == OperationType.MUTATION
    used = {
        name
        for definition in definitions
        for field in field_nodes(definition.selection_set)
        for arg in _checked(field.arguments)
        if filters or arg.name.value != "filter"
        for name in _variables(arg.value)
    }
    # only the variables page arguments name are coerced (again: execution coerces them all)
    declared = [d for d in operation.variable_definitions if d.variable.name.value in used]
    if not declared:
        return []
    coerced = get_variable_values(schema, declared, dict(raw_variables), max_errors=1)
    if isinstance(coerced, list):
        return []
    errors = []
    for definition in definitions:
        root: Any
        if isinstance(definition, OperationDefinitionNode):
            root = schema.get_root_type(definition.operation)
        elif isinstance(definition, FragmentDefinitionNode):
            root = schema.get_type(definition.type_condition.name.value)
        else:
            continue  # a type-system definition: nothing to execute
        for node, field in _typed_fields(schema, definition.selection_set, root):
            names_variables = any(any(_variables(a.value)) for a in _checked(node.arguments))
            if names_variables and _is_connection(field):
                error = refusal(schema, node, field, max_page_size, coerced.coerced, filters=filters)
                if error is not None:
                    errors.append(error)
    return errors


def field_nodes(selections: SelectionSetNode | None) -> Iterator[FieldNode]:
    """Every field node of a selection set, inline fragments included, spreads not (each
    fragment definition is walked by itself, once)."""
    for node in selections.selections if selections else ():
        if isinstance(node, FieldNode):
            yield node
        if isinstance(node, FieldNode | InlineFragmentNode):
            yield from field_nodes(node.selection_set)


def _typed_fields(
    schema: GraphQLSchema, selections: SelectionSetNode | None, parent: Any
) -> Iterator[tuple[FieldNode, GraphQLField]]:
    """Field nodes with their definitions (spreads not followed, as in `field_nodes`)."""
    for node in selections.selections if selections else ():
        if isinstance(node, FieldNode):
            field = getattr(parent, "fields", {}).get(node.name.value)
            if field is not None:
                yield node, field
                yield from _typed_fields(schema, node.selection_set, get_named_type(field.type))
        elif isinstance(node, InlineFragmentNode):
            condition = node.type_condition
            target = schema.get_type(condition.name.value) if condition else None
            yield from _typed_fields(schema, node.selection_set, target or parent)


def _spread_by(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> list[FragmentDefinitionNode]:
    """The fragments an operation spreads, directly or through other fragments, each once."""
    found: dict[str, FragmentDefinitionNode] = {}
    pending = [operation.selection_set]
    while pending:
        for name in _spreads(pending.pop()):
            if name not in found and name in fragments:
                found[name] = fragments[name]
                pending.append(fragments[name].selection_set)
    return list(found.values())


def _spreads(selections: SelectionSetNode | None) -> Iterator[str]:
    for node in selections.selections if selections else ():
        if isinstance(node, FragmentSpreadNode):
            yield node.name.value
        elif isinstance(node, FieldNode | InlineFragmentNode):
            yield from _spreads(node.selection_set)
