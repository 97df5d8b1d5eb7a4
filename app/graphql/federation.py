"""The schema as an Apollo Federation 2 subgraph (docs/federation.md).

Ten entities carry `@key(fields: "id")`, the key being the same global id every other field
returns. `_entities(representations:)` resolves them the way `nodes(ids:)` does: through the
request's by-id loaders, so a batch of representations is one statement per type, scoped by the
tenancy hook; what the caller may not see (another organization's, a private deal it is not on)
is `null`. The operation is a query like any other: the viewer role, the limits, the time limit.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final, cast

import strawberry
from graphql import GraphQLObjectType, GraphQLSchema
from strawberry import UNSET
from strawberry.federation.schema import FederationAny
from strawberry.federation.schema_directives import Key

from app.errors import BadUserInput
from app.graphql import registry
from app.graphql.context import Info
from app.graphql.view import GatewaySchema
from app.ids import decode

# The entities other subgraphs may reference and extend, by GraphQL type name.
KEYED = (
    "Opportunity",
    "Customer",
    "Contact",
    "User",
    "Pipeline",
    "Stage",
    "Lead",
    "Channel",
    "CloseReason",
    "OpportunityType",
)

# the lowest Federation 2 version with everything used here (@key, @link): any Federation 2
# router or composition accepts it
FEDERATION_VERSION: Final = "2.0"


def declare_keys() -> None:
    """Put `@key(fields: "id")` on each keyed entity's type, once.

    Done here, on the registered types, rather than at each type's declaration: the key is
    one fact about the subgraph, kept in one list (KEYED) beside the resolver that honours it.
    """
    for name in KEYED:
        definition = registry.get(name).type.__strawberry_definition__  # type: ignore[attr-defined]
        directives = list(definition.directives or ())
        if not any(isinstance(d, Key) for d in directives):
            definition.directives = [*directives, Key(fields="id", resolvable=UNSET)]  # type: ignore[arg-type]


class SubgraphSchema(GatewaySchema, strawberry.federation.Schema):
    """The gateway's schema (its error handling included) with `_service` and `_entities`."""

    # async where strawberry's is sync: the field awaits it all the same, and gathering is the batch
    async def entities_resolver(  # type: ignore[override]
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        limit = info.context.settings.max_page_size
        if len(representations) > limit:
            raise BadUserInput(f"at most {limit} representations at once", argument="representations")
        # gathered, so every load is queued before the loaders dispatch: one batch per type
        return list(await asyncio.gather(*(_entity(info, r) for r in representations)))


async def _entity(info: Info, representation: Any) -> Any:
    """One representation's entity, None when it is not visible; an error when it is malformed.

    The error is returned, not raised: it nulls only this item (at its path), like a missing one.
    """
    if not isinstance(representation, dict):
        return BadUserInput("a representation is an object {__typename, id}", argument="representations")
    typename, gid = representation.get("__typename"), representation.get("id")
    if typename not in KEYED:
        return BadUserInput(f"{typename!r} is not an entity of this subgraph", argument="representations")
    if not isinstance(gid, str):
        return BadUserInput(f"a {typename} representation needs its `id`", argument="representations")
    pk = decode(typename, gid)
    if pk is None:  # not an id, or the id of another type: nothing of this type has it
        return None
    return await info.context.loaders.by_id(registry.get(typename)).load(pk)


# Strawberry adds these without descriptions; every type and field of the schema has one.
_DESCRIPTIONS = {
    "_Service": "This subgraph, as Apollo Federation's composition reads it.",
    "_Service.sdl": "The subgraph's schema in SDL, federation directives included.",
    "link__Purpose": "What a linked specification is for (`@link(for:)`).",
    "_Entity": "Every type other subgraphs may reference by its key (`@key`).",
    "Query._service": "The subgraph's schema, for composition (Apollo Federation).",
    "Query._entities": (
        "Entities by their keys, for the router: in the order asked; null for any not visible."
    ),
    "Query._entities(representations)": "`{__typename, id}` objects; `id` is the global id.",
}


def describe(schema: GraphQLSchema) -> None:
    """Describe the federation types and fields strawberry added (before any SDL is printed)."""
    for path, text in _DESCRIPTIONS.items():
        type_name, _, rest = path.partition(".")
        named = schema.type_map[type_name]
        if not rest:
            named.description = text
            continue
        field_name, _, argument = rest.rstrip(")").partition("(")
        field = cast(GraphQLObjectType, named).fields[field_name]
        if argument:
            field.args[argument].description = text
        else:
            field.description = text
