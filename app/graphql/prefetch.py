"""Planned prefetch: load every relation a query selects below a page, a level at a time.

When a list or root resolver has its rows, it reads the selection set below them
(fragments, inline fragments, aliases and @include/@skip as graphql-core reads them)
and loads each selected relation for the whole page through the request's loaders:
all relations of one level at once (one statement per loader), then the level below
on what came back. graphql-core then descends into objects whose relations are in
the loaders' cache, and the relation fields return them synchronously
(`Loader.get`) instead of an awaitable per row.

The plan is only ahead-of-time work: a relation it does not foresee (below an
abstract type, behind `node`, a connection's own page) resolves through the same
loaders when graphql-core reaches it, and a batch that fails here is left to fail
again, with its error at its path, when the field resolves.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.execution.values import VariableValues

from app.graphql import registry

_DEFINITION = "strawberry-definition"

# One unit of planned work: the loading steps left, the objects they start from, and what
# to plan on the loaded objects (their GraphQL type and the field nodes selecting below them).
Job = tuple[Sequence[Any], list[Any], tuple[GraphQLObjectType, list[FieldNode]] | None]


async def below_connection(info: Any, nodes: list[Any]) -> None:
    """Plan below a connection's `nodes { … }` and `edges { node { … } }`."""
    if not nodes:
        return
    raw: GraphQLResolveInfo = info._raw_info
    node_type, selecting = _below_connection(raw)
    if node_type is not None and selecting:
        await _run(raw, [(nodes, node_type, selecting)])


def to_one_below_connection(info: Any) -> list[tuple[str, Any]]:
    """(field name, relation) of the to-one relations selected on a connection's nodes, which a
    root list may join into its page's statement (app/graphql/lists.py)."""
    raw: GraphQLResolveInfo = info._raw_info
    node_type, selecting = _below_connection(raw)
    return [] if node_type is None else _to_one(raw, node_type, selecting)


def to_one_below_object(info: Any) -> list[tuple[str, Any]]:
    """(field name, relation) of the to-one relations selected on the one object a root field
    returns (`opportunity(id:)`), which its lookup may join (app/graphql/lists.py)."""
    raw: GraphQLResolveInfo = info._raw_info
    t = get_named_type(raw.return_type)
    return _to_one(raw, t, list(raw.field_nodes)) if isinstance(t, GraphQLObjectType) else []


def _to_one(
    raw: GraphQLResolveInfo, node_type: GraphQLObjectType, selecting: list[FieldNode]
) -> list[tuple[str, Any]]:
    found: dict[str, Any] = {}
    for name, _ in _collect(raw, node_type, selecting):
        gql_field = node_type.fields.get(name)
        definition = (gql_field.extensions or {}).get(_DEFINITION) if gql_field is not None else None
        relation = (definition.metadata or {}).get(registry.REL) if definition is not None else None
        if relation is not None and not relation.many and name not in found:
            found[name] = relation
    return list(found.items())


def _below_connection(raw: GraphQLResolveInfo) -> tuple[GraphQLObjectType | None, list[FieldNode]]:
    """The node type of a connection field and the field nodes selecting on its nodes."""
    connection = get_named_type(raw.return_type)
    if not isinstance(connection, GraphQLObjectType):
        return None, []
    node_type: GraphQLObjectType | None = None
    selecting: list[FieldNode] = []
    for name, field_node in _collect(raw, connection, raw.field_nodes):
        if name == "nodes":
            node_type = _object_type(connection.fields["nodes"])
            selecting.append(field_node)
        elif name == "edges":
            edge = _object_type(connection.fields["edges"])
            if edge is None:
                continue
            for sub, sub_node in _collect(raw, edge, [field_node]):
                if sub == "node":
                    node_type = _object_type(edge.fields["node"])
                    selecting.append(sub_node)
    return node_type, selecting


def selects(info: Any, name: str) -> bool:
    """Whether the current field's selection includes the field `name` (at its top level)."""
    raw: GraphQLResolveInfo = info._raw_info
    t = get_named_type(raw.return_type)
    return isinstance(t, GraphQLObjectType) and any(n == name for n, _ in _collect(raw, t, raw.field_nodes))


async def below_object(info: Any, obj: Any) -> None:
    """Plan below one object a root field returns (`opportunity(id:)`)."""
    raw: GraphQLResolveInfo = info._raw_info
    t = get_named_type(raw.return_type)
    if isinstance(t, GraphQLObjectType):
        await _run(raw, [([obj], t, list(raw.field_nodes))])


async def _run(
    raw: GraphQLResolveInfo, groups: list[tuple[list[Any], GraphQLObjectType, list[FieldNode]]]
) -> None:
    loaders = raw.context.loaders
    jobs = _jobs(raw, groups)
    while jobs:
        # every job's next step at once: loads of one loader in one tick make one batch
        results = await asyncio.gather(
            *(steps[0](loaders, objs) for steps, objs, _ in jobs), return_exceptions=True
        )
        next_jobs: list[Job] = []
        below: list[tuple[list[Any], GraphQLObjectType, list[FieldNode]]] = []
        for (steps, _, then), found in zip(jobs, results, strict=True):
            if isinstance(found, BaseException) or not found:
                continue  # a failed batch fails again, in place, when the field resolves
            if len(steps) > 1:
                next_jobs.append((steps[1:], found, then))
            elif then is not None:
                below.append((found, *then))
        jobs = next_jobs + _jobs(raw, below)


def _jobs(
    raw: GraphQLResolveInfo, groups: list[tuple[list[Any], GraphQLObjectType, list[FieldNode]]]
) -> list[Job]:
    jobs: list[Job] = []
    for objs, t, field_nodes in groups:
        selected: dict[str, list[FieldNode]] = defaultdict(list)
        for name, node in _collect(raw, t, field_nodes):
            selected[name].append(node)  # aliases of one field merge: relations take no arguments
        for name, nodes in selected.items():
            gql_field = t.fields.get(name)
            definition = (gql_field.extensions or {}).get(_DEFINITION) if gql_field is not None else None
            if definition is None:
                continue
            meta = definition.metadata or {}
            for needed in meta.get(registry.NEEDS, ()):
                owner = registry.get(t.extensions[_DEFINITION].origin)
                jobs.append((owner.relations[needed].steps(), objs, None))
            relation = meta.get(registry.REL)
            if relation is None or not relation.prefetched:
                continue
            child = _object_type(gql_field)
            jobs.append((relation.steps(), objs, None if child is None else (child, nodes)))
    return jobs


def _object_type(gql_field: GraphQLField) -> GraphQLObjectType | None:
    t = get_named_type(gql_field.type)
    return t if isinstance(t, GraphQLObjectType) else None  # abstract types are not planned


def _collect(
    raw: GraphQLResolveInfo, t: GraphQLObjectType, field_nodes: Sequence[FieldNode]
) -> Iterator[tuple[str, FieldNode]]:
    """(field name, node) of every field selected on `t` below `field_nodes`."""
    for field_node in field_nodes:
        if field_node.selection_set is not None:
            yield from _selections(raw, t, field_node.selection_set, set())


def _selections(
    raw: GraphQLResolveInfo, t: GraphQLObjectType, selection_set: SelectionSetNode, seen: set[str]
) -> Iterator[tuple[str, FieldNode]]:
    for selection in selection_set.selections:
        if not _included(raw, selection):
            continue
        if isinstance(selection, FieldNode):
            yield selection.name.value, selection
        elif isinstance(selection, InlineFragmentNode):
            if _applies(raw, t, selection.type_condition.name.value if selection.type_condition else None):
                yield from _selections(raw, t, selection.selection_set, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = raw.fragments.get(name)
            if name in seen or fragment is None:
                continue
            seen.add(name)
            if _applies(raw, t, fragment.type_condition.name.value):
                yield from _selections(raw, t, fragment.selection_set, seen)


def _applies(raw: GraphQLResolveInfo, t: GraphQLObjectType, condition: str | None) -> bool:
    if condition is None or condition == t.name:
        return True
    abstract = raw.schema.get_type(condition)
    return abstract is not None and raw.schema.is_sub_type(abstract, t)  # type: ignore[arg-type]


def _included(raw: GraphQLResolveInfo, node: Any) -> bool:
    """@skip and @include, as graphql-core applies them (@skip wins)."""
    if not node.directives:
        return True
    for directive in node.directives:
        name = directive.name.value
        if name in ("skip", "include") and _condition(raw, directive) == (name == "skip"):
            return False
    return True


def _condition(raw: GraphQLResolveInfo, directive: Any) -> bool:
    value = next(a.value for a in directive.arguments if a.name.value == "if")
    if isinstance(value, VariableNode):
        return bool(coerced_variables(raw).get(value.name.value))
    return bool(getattr(value, "value", False))


def coerced_variables(raw: GraphQLResolveInfo) -> Mapping[str, Any]:
    """The request's coerced variables: graphql-core types them as a VariableValues, while
    strawberry's execution context hands resolvers the plain dict."""
    values: Any = raw.variable_values
    return values.coerced if isinstance(values, VariableValues) else values
