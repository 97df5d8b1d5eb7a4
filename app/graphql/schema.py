"""The schema: Query composed from each domain module's roots, node lookup, and the extensions.

It is an Apollo Federation 2 subgraph too (app/graphql/federation.py).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.schema.config import BatchingConfig, StrawberryConfig

from app.changes.queries import ChangeQueries
from app.errors import BadUserInput
from app.graphql import registry
from app.graphql.aggregates import AggregateQueries
from app.graphql.api_keys import ApiKeyQueries
from app.graphql.common import GlobalID, Node
from app.graphql.context import Info
from app.graphql.custom_fields import CustomFieldQueries
from app.graphql.customers import CustomerQueries
from app.graphql.executor import CompiledExecutor
from app.graphql.federation import FEDERATION_VERSION, SubgraphSchema, declare_keys, describe
from app.graphql.items import ItemQueries
from app.graphql.lookups import LookupQueries
from app.graphql.mutations import Mutation
from app.graphql.opportunities import OpportunityQueries
from app.graphql.permissions import OperationRoles
from app.graphql.pipelines import PipelineQueries
from app.graphql.rates import RateQueries
from app.graphql.relations import install_lean_resolvers
from app.graphql.scalars import DECIMAL
from app.graphql.trash import TrashQueries
from app.graphql.users import User, UserQueries
from app.ids import from_global_id
from app.limits import execution_limits, validation_rules
from app.live.changed import Subscription
from app.settings import Settings


def load_node(info: Info, gid: str) -> Any:
    decoded = from_global_id(gid)
    nodes = registry.node_entities()
    if decoded is None or decoded[0] not in nodes:
        return None
    return info.context.loaders.by_id(nodes[decoded[0]]).load(decoded[1])


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Any object by its global id; null when missing or not visible.")
    def node(self, info: Info, id: GlobalID) -> Node | None:  # noqa: A002
        return load_node(info, id)

    @strawberry.field(description="Objects by global ids, in the order asked; null for any not visible.")
    async def nodes(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="Global ids, at most 1000.")],
    ) -> list[Node | None]:
        if len(ids) > info.context.settings.max_page_size:
            raise BadUserInput(f"at most {info.context.settings.max_page_size} ids at once", argument="ids")

        async def one(gid: str) -> Any:
            found = load_node(info, gid)
            return None if found is None else await found

        return list(await asyncio.gather(*(one(gid) for gid in ids)))

    @strawberry.field(description="The calling user.")
    def viewer(self, info: Info) -> User | None:
        return info.context.loaders.by_id(User).load(info.context.principal.user_id)  # type: ignore[return-value]


# Every root field is declared beside its type, in a `<Domain>Queries` class; this is the order
# they appear in the schema.
ROOTS = (
    OpportunityQueries,
    AggregateQueries,
    ApiKeyQueries,
    NodeQueries,
    CustomerQueries,
    UserQueries,
    PipelineQueries,
    LookupQueries,
    CustomFieldQueries,
    ItemQueries,
    ChangeQueries,
    TrashQueries,
    RateQueries,
)


@strawberry.type(description="Read the CRM: deals and everything around them.")
class Query(*ROOTS):  # type: ignore[misc]
    pass


def build_schema(settings: Settings | None = None) -> SubgraphSchema:
    settings = settings or Settings()
    # Every rule class is built once, here: rules built per request would be new classes
    # every time and miss the validation cache (strawberry issue #4635).
    rules: list[type[ASTValidationRule]] = [*validation_rules(settings)]
    if not settings.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    limits = execution_limits(settings)
    extensions: list[Any] = [
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        OperationRoles,
        limits,
    ]
    batching = (
        BatchingConfig(max_operations=settings.max_batch_operations)
        if settings.max_batch_operations > 1
        else None
    )
    declare_keys()
    schema = SubgraphSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,  # over graphql-transport-ws on /graphql (app/live/)
        types=[e.type for e in registry.node_entities().values()],
        extensions=extensions,
        config=StrawberryConfig(batching_config=batching),
        scalar_overrides={Decimal: DECIMAL},
        execution_context_class=CompiledExecutor if settings.compiled_executor else None,
        federation_version=FEDERATION_VERSION,
    )
    describe(schema._schema)
    install_lean_resolvers(schema)
    return schema
