"""Query limits: depth, aliases, tokens and an estimated cost, each refused with QUERY_TOO_COMPLEX.

One walk of the document measures three things: the depth (fields on the longest
path), the aliases, and the estimated cost. Every selected field costs 1 for each
time it will be resolved: a connection multiplies that by its page size
(`first`/`last`, default 20), so page sizes multiply down nested connections; other
lists of objects multiply by LIST_FACTOR, `nodes(ids:)` by the number of ids.

Strawberry's own depth and alias limiters are not used: they expand every fragment
spread anew, so a fragment bomb (each fragment spreading the next ten times) took
minutes to refuse. Here a fragment is measured once and reused, since cost is linear
in how often a fragment is resolved: the walk is linear in the size of the document.

Rule classes are built once per schema (strawberry issue #4635: rules built per
request miss the validation cache). Validation sees no variables, so a page size given
as a variable counts as 0 there (or its declared default); `ExecutionLimits` measures
operations that declare variables again, with the request's values, before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
)
from graphql.language import ValueNode
from strawberry.extensions import SchemaExtension

from app.errors import BadUserInput, QueryTooComplex
from app.page_limits import field_nodes, page_rule, refuse_pages
from app.settings import Settings

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
# a list of objects that is not a connection (items, stages, participants) counts as this many
LIST_FACTOR = 10
PAGE_ARGUMENTS = ("first", "last")
NUL = "\x00"
# variables nested deeper than this are refused before graphql-core's recursive coercion sees them
MAX_NESTING = 64


def too_complex(message: str, limit: str, nodes: Any = None) -> GraphQLError:
    """A GraphQL error for a refused document, naming the setting that refused it."""
    return GraphQLError(message, nodes, extensions={"code": QUERY_TOO_COMPLEX, "limit": limit})


# ---------------------------------------------------------------- the measure


@dataclass(frozen=True)
class Budget:
    max_cost: int
    max_depth: int
    max_aliases: int
    max_page_size: int
    default_page_size: int


@dataclass(frozen=True)
class Stats:
    cost: int = 0  # per time the selection set is resolved
    depth: int = 0
    aliases: int = 0

    def __add__(self, other: Stats) -> Stats:
        return Stats(self.cost + other.cost, max(self.depth, other.depth), self.aliases + other.aliases)


class Measure:
    """Depth, aliases and cost of one operation, each fragment measured once."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        budget: Budget,
        variables: Mapping[str, Any] | None,
        defaults: Mapping[str, Any],
    ) -> None:
        self.schema, self.fragments, self.budget = schema, fragments, budget
        self.variables, self.defaults = variables, defaults
        self.memo: dict[str, Stats] = {}

    def operation(self, op: OperationDefinitionNode) -> Stats:
        root = self.schema.get_root_type(op.operation)
        return self._selections(op.selection_set, root) if root is not None else Stats()

    def _selections(self, selections: SelectionSetNode, parent: Any) -> Stats:
        total = Stats()
        for node in selections.selections:
            if isinstance(node, FieldNode):
                total += self._field(node, parent)
            elif isinstance(node, InlineFragmentNode):
                cond = node.type_condition
                target = (self.schema.get_type(cond.name.value) if cond else None) or parent
                total += self._selections(node.selection_set, target)
            elif isinstance(node, FragmentSpreadNode):
                total += self._fragment(node.name.value, parent)
        return total

    def _fragment(self, name: str, parent: Any) -> Stats:
        if name in self.memo:
            return self.memo[name]
        fragment = self.fragments.get(name)
        if fragment is None:
            return Stats()
        self.memo[name] = Stats()  # a cycle counts as nothing (graphql-core refuses cycles)
        target = self.schema.get_type(fragment.type_condition.name.value) or parent
        self.memo[name] = self._selections(fragment.selection_set, target)
        return self.memo[name]

    def _field(self, node: FieldNode, parent: Any) -> Stats:
        alias = 1 if node.alias is not None else 0
        definition = getattr(parent, "fields", {}).get(node.name.value)
        if definition is None or node.selection_set is None:
            return Stats(1, 1, alias)
        child_type = get_named_type(definition.type)
        if not is_composite_type(child_type):
            return Stats(1, 1, alias)
        child = self._selections(node.selection_set, child_type)
        factor = self._factor(node, definition, parent)
        return Stats(1 + factor * child.cost, 1 + child.depth, alias + child.aliases)

    def _factor(self, node: FieldNode, definition: Any, parent: Any) -> int:
        args = {a.name.value: a.value for a in node.arguments or ()}
        if any(name in definition.args for name in PAGE_ARGUMENTS):
            return self._page_size(args)
        is_list = isinstance(get_nullable_type(definition.type), GraphQLList)
        if "ids" in definition.args and is_list:  # `nodes(ids:)`: one result per id
            ids = self._value(args.get("ids"))
            return max(len(ids), 1) if isinstance(ids, list) else 1
        # edges/nodes of a connection were counted by the connection's page size already
        return LIST_FACTOR if is_list and not parent.name.endswith("Connection") else 1

    def _page_size(self, args: Mapping[str, ValueNode]) -> int:
        size = None
        for name in PAGE_ARGUMENTS:
            value = self._value(args.get(name))
            if isinstance(value, int) and not isinstance(value, bool):
                # over the maximum is refused by app.page_limits (naming the maximum, before
                # this rule's error); here it only must not make the estimate explode
                size = min(max(value, 0), self.budget.max_page_size)
        return self.budget.default_page_size if size is None else size

    def _value(self, node: ValueNode | None) -> Any:
        if isinstance(node, VariableNode):
            name = node.name.value
            if self.variables is None:
                # validation: the value is not known yet; ExecutionLimits measures with it
                return self.defaults.get(name, 0)
            return self.variables.get(name, self.defaults.get(name))
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, ListValueNode):
            return list(node.values)
        return None


def _literal_defaults(op: OperationDefinitionNode) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for var in op.variable_definitions or ():
        default = var.default_value
        if isinstance(default, IntValueNode):
            out[var.variable.name.value] = int(default.value)
        elif isinstance(default, ListValueNode):
            out[var.variable.name.value] = list(default.values)
    return out


def _over_budget(stats: Stats, budget: Budget, name: str) -> tuple[str, str] | None:
    if stats.depth > budget.max_depth:
        return f"'{name}' exceeds maximum operation depth of {budget.max_depth}", "max_depth"
    if stats.aliases > budget.max_aliases:
        return f"{stats.aliases} aliases found. Allowed: {budget.max_aliases}", "max_aliases"
    if stats.cost > budget.max_cost:
        return (
            f"the query's estimated cost is over the limit of {budget.max_cost} "
            "(page sizes multiply down nested connections; ask for fewer rows or fields)",
            "max_cost",
        )
    return None


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    budget: Budget,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> Iterator[GraphQLError]:
    """QUERY_TOO_COMPLEX errors for the operations of `document` that are over budget."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    for op in document.definitions:
        if not isinstance(op, OperationDefinitionNode):
            continue
        name = op.name.value if op.name else "anonymous"
        if operation_name is not None and name != operation_name:
            continue
        stats = Measure(schema, fragments, budget, variables, _literal_defaults(op)).operation(op)
        refused = _over_budget(stats, budget, name)
        if refused is not None:
            yield too_complex(refused[0], refused[1], [op])


def measure_rule(budget: Budget) -> type[ValidationRule]:
    class MeasureRule(ValidationRule):
        """Refuses documents over the depth, alias or cost limit."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            for error in measure(context.schema, context.document, budget):
                context.report_error(error)

    return MeasureRule


class NoNulInStrings(ValidationRule):
    """NUL cannot be stored or compared as text (PostgreSQL refuses it): a clear error instead."""

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if NUL in node.value:
            self.report_error(
                GraphQLError(
                    "text cannot contain the NUL character (\\u0000)",
                    node,
                    extensions={"code": "BAD_USER_INPUT"},
                )
            )


def budget_of(settings: Settings) -> Budget:
    return Budget(
        max_cost=settings.max_cost,
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_page_size=settings.max_page_size,
        default_page_size=settings.default_page_size,
    )


def validation_rules(settings: Settings) -> list[type[ValidationRule]]:
    """Every document rule, built once for the schema's lifetime."""
    # page arguments first: a page over the maximum is named as such, not as a cost
    return [page_rule(settings.max_page_size), measure_rule(budget_of(settings)), NoNulInStrings]


# ---------------------------------------------------------------- before parsing and executing


def _value_nesting(value: Any, depth: int = 0) -> int:
    if depth > MAX_NESTING:
        return depth
    if isinstance(value, dict):
        return max((_value_nesting(v, depth + 1) for v in value.values()), default=depth + 1)
    if isinstance(value, list):
        return max((_value_nesting(v, depth + 1) for v in value), default=depth + 1)
    return depth


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_contains_nul(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_nul(v) for v in value)
    return False


def _declares_variables(document: DocumentNode) -> bool:
    return any(
        isinstance(d, OperationDefinitionNode) and d.variable_definitions for d in document.definitions
    )


def _too_deep() -> QueryTooComplex:
    return QueryTooComplex(f"the request nests more than {MAX_NESTING} levels deep", limit="max_nesting")


# ---------------------------------------------------------------- filter size

FILTER_ARGUMENT = "filter"  # every list, aggregate and bulk mutation names its filter so
ONE_TERM_LISTS = ("in", "notIn")  # one SQL term however many values (their length is capped apart)


def _json_terms(value: Any, key: str | None = None) -> int:
    """Input objects and list items in a filter: each becomes at least one SQL term."""
    if isinstance(value, dict):
        return 1 + sum(_json_terms(v, k) for k, v in value.items())
    if isinstance(value, list):
        if key in ONE_TERM_LISTS:
            return 1
        return sum(max(_json_terms(v), 1) for v in value)
    return 0


def _ast_terms(node: Any, variables: Mapping[str, Any], key: str | None = None) -> int:
    if isinstance(node, VariableNode):
        return _json_terms(variables.get(node.name.value), key)
    if isinstance(node, ObjectValueNode):
        return 1 + sum(_ast_terms(f.value, variables, f.name.value) for f in node.fields)
    if isinstance(node, ListValueNode):
        if key in ONE_TERM_LISTS:
            return 1
        return sum(max(_ast_terms(v, variables), 1) for v in node.values)
    return 0


def largest_filter(document: DocumentNode, variables: Mapping[str, Any]) -> int:
    """Terms of the largest `filter` argument in the document (each field node seen once)."""
    largest = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            for field in field_nodes(definition.selection_set):
                for arg in field.arguments or ():
                    if arg.name.value == FILTER_ARGUMENT:
                        largest = max(largest, _ast_terms(arg.value, variables))
    return largest


def execution_limits(settings: Settings) -> type[SchemaExtension]:
    budget = budget_of(settings)

    class ExecutionLimits(SchemaExtension):
        """Refuses what validation cannot see in variables: nesting too deep for the recursive
        input coercion, NUL characters, filters too large to compile, page arguments the planner
        would refuse (app.page_limits), page sizes over the cost budget.

        (Documents nested too deeply are refused by graphql-core's parser itself.)"""

        def on_execute(self) -> Iterator[None]:
            ctx = self.execution_context
            variables = ctx.variables or {}
            if _value_nesting(variables) > MAX_NESTING:
                raise _too_deep()
            if _contains_nul(variables):
                raise BadUserInput("text cannot contain the NUL character (\\u0000)")
            document = ctx.graphql_document
            if document is not None and largest_filter(document, variables) > settings.max_filter_terms:
                raise QueryTooComplex(
                    f"a filter has more than {settings.max_filter_terms} terms (conditions, combinators "
                    "and list items); split it or simplify it",
                    limit="max_filter_terms",
                )
            if document is not None and _declares_variables(document):
                schema = ctx.schema._schema
                for refused in refuse_pages(
                    schema, document, budget.max_page_size, variables, ctx.operation_name
                ):
                    raise refused
                for error in measure(ctx.schema._schema, document, budget, variables, ctx.operation_name):
                    raise QueryTooComplex(error.message, limit=(error.extensions or {})["limit"])
            yield

    return ExecutionLimits
