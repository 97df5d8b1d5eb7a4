"""Page arguments refused before anything runs: the page planner's own checks, at validation.

A connection's `orderBy` (no key twice, at most five), `first`/`last`/`offset` (signs, the
maximum page size, the combinations) and `after`/`before` (a cursor this API issued) are
refused by the planner when the connection's resolver runs. In a mutation's payload that
is after the write committed: the caller was told "refused" about a write that happened.
So the same checks run first, on the document:

- arguments written as literals in the validation pass (`page_rule`, one class per
  schema, so strawberry's ValidationCache keeps its verdict per document, which is right:
  it depends on nothing else);
- arguments that name variables once per request with that request's coerced variables
  (`refuse_pages`, called by `execution_limits` before execution starts, like the cost).

The refusals are the planner's exceptions turned into GraphQL errors, so the code, message
and `extensions` are exactly the planner's; the planner keeps its checks as a defence in
depth. Which ordering a cursor was issued for needs the list's sort keys (the entity's
columns and its default order), known only to the resolver: that one stays at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
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
from graphql.language import ValueNode

from app.errors import GatewayError
from app.graphql.lists import check_order
from app.query.order import read_cursor
from app.query.pages import PageArgs, check_page

# the arguments every connection takes that the planner refuses (`filter` is the compiler's)
CHECKED = ("orderBy", "first", "after", "last", "before", "offset")


def _is_connection(field: GraphQLField) -> bool:
    return "first" in field.args and "after" in field.args


def _names_variables(value: ValueNode) -> bool:
    """Whether a value mentions a variable anywhere inside it."""
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_names_variables(v) for v in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_names_variables(f.value) for f in value.fields)
    return False


def _value(arg: ArgumentNode | None, field: GraphQLField, variables: Mapping[str, Any] | None) -> Any:
    """The argument's coerced value; None when absent, null, not yet known or not coercible.

    Not coercible (a literal 2^31, say) is left to graphql-core's own rule or coercion,
    which refuses it with BAD_USER_INPUT; so a missing value never makes a refusal here.
    """
    if arg is None:
        return None
    if variables is None and _names_variables(arg.value):
        return None  # validation: the value is not known yet; refuse_pages checks it
    value = value_from_ast(arg.value, field.args[arg.name.value].type, dict(variables or {}))
    return None if value is Undefined else value


def refusal(
    node: FieldNode, field: GraphQLField, max_page_size: int, variables: Mapping[str, Any] | None
) -> GraphQLError | None:
    """The planner's refusal of this connection field's arguments, in the planner's order."""
    args = {a.name.value: a for a in node.arguments or () if a.name.value in CHECKED}
    values = {name: _value(args.get(name), field, variables) for name in CHECKED}
    try:
        if isinstance(values["orderBy"], list):
            check_order([SimpleNamespace(field=key["field"]) for key in values["orderBy"]])
        check_page(
            PageArgs(values["first"], values["after"], values["last"], values["before"], values["offset"]),
            max_page_size,
        )
        for name in ("after", "before"):
            if isinstance(values[name], str):
                read_cursor(values[name], name)
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
        if self.variables is not None and not any(_names_variables(a.value) for a in node.arguments or ()):
            return  # literals only: the validation pass has checked them
        error = refusal(node, field, self.max_page_size, self.variables)
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
    coerced = get_variable_values(schema, operation.variable_definitions, dict(raw_variables), max_errors=1)
    if isinstance(coerced, list):
        return []
    errors: list[GraphQLError] = []
    type_info = TypeInfo(schema)
    context = ValidationContext(schema, document, type_info, errors.append)
    rule = _PageArguments(context)
    rule.max_page_size, rule.variables = max_page_size, coerced.coerced
    for definition in (operation, *context.get_recursively_referenced_fragments(operation)):
        visit(definition, TypeInfoVisitor(type_info, rule))
    return errors
