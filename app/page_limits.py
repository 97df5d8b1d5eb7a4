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
  (`refuse_pages`, called by `execution_limits` before execution starts, like the cost).

The refusals are the resolver's exceptions turned into GraphQL errors, so the code, message
and `extensions` are exactly the resolver's; it keeps its checks as a defence in depth.
Two stay at run time only: which ordering a cursor was issued for (it needs the list's sort
keys, its entity's columns and default order) and filter checks that read the database
(a custom field filter against its definition's type).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLSchema,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Undefined,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_operation_ast,
    value_from_ast,
    visit,
)
from graphql.execution.values import get_variable_values
from graphql.language import Node, ValueNode, Visitor
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
) -> GraphQLError | None:
    """The list resolver's refusal of this connection field's arguments, in its order."""
    args = {a.name.value: a for a in _checked(node.arguments)}
    values = {
        name: value for name, arg in args.items() if (value := _value(arg, field, variables)) is not None
    }
    definition = field.extensions.get("strawberry-definition")
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    if definition is None or strawberry_schema is None:
        return None
    # the Python values the resolver gets: strawberry's own conversion of the arguments
    kw = convert_arguments(
        values,
        definition.arguments,
        strawberry_schema.schema_converter.scalar_registry,
        strawberry_schema.config,
    )
    try:
        if kw.get("order_by"):
            check_order(kw["order_by"])
        page = PageArgs(kw.get("first"), kw.get("after"), kw.get("last"), kw.get("before"), kw.get("offset"))
        check_page(page, max_page_size)
        for name, cursor in (("after", page.after), ("before", page.before)):
            if cursor is not None:
                read_cursor(cursor, name)
        if kw.get("filter") is not None:
            compile_filter(kw["filter"])  # what it refuses needs no database
    except GatewayError as refused:
        culprit = args.get(str(refused.extensions.get("argument")), node)
        return GraphQLError(str(refused), culprit, extensions=refused.extensions)
    return None


class _PageArguments(ValidationRule):
    max_page_size = 0  # set by page_rule
    variables: Mapping[str, Any] | None = None  # None in the validation pass

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        field = self.context.get_field_def()
        if field is None or not _is_connection(field):
            return
        if self.variables is not None and not any(any(_variables(a.value)) for a in _checked(node.arguments)):
            return  # literals only: the validation pass has checked them
        error = refusal(self.context.schema, node, field, self.max_page_size, self.variables)
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

    Only the operation that runs and the fragments it spreads are checked. Variables that
    do not coerce are not judged here: execution refuses them with its own errors.
    """
    operation = get_operation_ast(document, operation_name)
    if not isinstance(operation, OperationDefinitionNode) or not operation.variable_definitions:
        return []
    errors: list[GraphQLError] = []
    type_info = TypeInfo(schema)
    context = ValidationContext(schema, document, type_info, errors.append)
    definitions = (operation, *context.get_recursively_referenced_fragments(operation))
    used = _page_variables(definitions)
    # only the variables page arguments name are coerced (again: execution coerces them all)
    declared = [d for d in operation.variable_definitions if d.variable.name.value in used]
    if not declared:
        return []
    coerced = get_variable_values(schema, declared, dict(raw_variables), max_errors=1)
    if isinstance(coerced, list):
        return []
    rule = _PageArguments(context)
    rule.max_page_size, rule.variables = max_page_size, coerced.coerced
    for definition in definitions:
        visit(definition, TypeInfoVisitor(type_info, rule))
    return errors


def _page_variables(definitions: Iterable[Node]) -> set[str]:
    names: set[str] = set()

    class Collect(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            if node.name.value in CHECKED:
                names.update(_variables(node.value))

    for definition in definitions:
        visit(definition, Collect())
    return names
