"""The schema: Query composed from the domain modules, node lookup, and the extensions."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from app.errors import BadUserInput
from app.graphql.aggregates import AggregateQueries
from app.graphql.api_keys import ApiKeyMutations, ApiKeyQueries
from app.graphql.common import GlobalID, Node, from_global_id
from app.graphql.context import Info
from app.graphql.custom_fields import CustomFieldDefinition
from app.graphql.customers import Contact, Customer
from app.graphql.items import OpportunityItem
from app.graphql.lookups import Channel, CloseReason, Lead, OpportunityType
from app.graphql.mutations import Mutation
from app.graphql.opportunities import Opportunity, OpportunityQueries
from app.graphql.permissions import OperationRoles
from app.graphql.pipelines import Pipeline, Stage
from app.graphql.relations import connection_field, decode_id, install_lean_resolvers
from app.graphql.users import Organization, User
from app.limits import DECIMAL, execution_limits, validation_rules
from app.masking import GatewaySchema
from app.settings import Settings

NODE_TYPES: dict[str, Any] = {
    t.__name__: t
    for t in (
        Opportunity,
        Customer,
        Contact,
        User,
        Organization,
        Pipeline,
        Stage,
        CloseReason,
        Channel,
        Lead,
        OpportunityType,
        OpportunityItem,
        CustomFieldDefinition,
    )
}


def one_field(t: Any, description: str) -> Any:
    """`<type>(id: ID!)`: one record by global id, null when missing or not visible."""

    def resolve(info: Info, id: strawberry.ID) -> Any:  # noqa: A002
        pk = decode_id(t.__name__)(id)
        return info.context.loaders.by_id(t).load(pk) if pk > 0 else None

    resolve.__annotations__ = {"info": Info, "id": GlobalID, "return": t | None}
    return strawberry.field(resolver=resolve, description=description)


def load_node(info: Info, gid: str) -> Any:
    decoded = from_global_id(gid)
    if decoded is None or decoded[0] not in NODE_TYPES:
        return None
    return info.context.loaders.by_id(NODE_TYPES[decoded[0]]).load(decoded[1])


@strawberry.type(description="Read the CRM: deals and everything around them.")
class Query(OpportunityQueries, AggregateQueries, ApiKeyQueries):
    @strawberry.field(description="Any object by its global id; null when missing or not visible.")
    def node(self, info: Info, id: GlobalID) -> Node | None:  # noqa: A002
        return load_node(info, id)  # type: ignore[no-any-return]

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

    customer = one_field(Customer, "One customer by id.")
    customers = connection_field(Customer, "Customers, by name unless `orderBy` says otherwise.")
    contact = one_field(Contact, "One contact by id.")
    contacts = connection_field(Contact, "Contacts, by name unless `orderBy` says otherwise.")
    user = one_field(User, "One user by id.")
    users = connection_field(User, "Users of the organization, by name.")
    pipeline = one_field(Pipeline, "One pipeline by id.")
    pipelines = connection_field(Pipeline, "Pipelines, by name.")
    stage = one_field(Stage, "One stage by id.")
    stages = connection_field(Stage, "Stages of all pipelines, by position.")
    close_reason = one_field(CloseReason, "One close reason by id.")
    close_reasons = connection_field(CloseReason, "Close reasons, by name.")
    channel = one_field(Channel, "One channel by id.")
    channels = connection_field(Channel, "Channels, by name.")
    lead = one_field(Lead, "One lead by id.")
    leads = connection_field(Lead, "Leads, newest first.")
    opportunity_type = one_field(OpportunityType, "One opportunity type by id.")
    opportunity_types = connection_field(OpportunityType, "Opportunity types, by name.")
    custom_field_definition = one_field(CustomFieldDefinition, "One custom field definition by id.")
    custom_field_definitions = connection_field(
        CustomFieldDefinition, "Custom field definitions, in form order."
    )
    opportunity_item = one_field(OpportunityItem, "One line item by id.")


@strawberry.type(name="Mutation", description=Mutation.__strawberry_definition__.description)
class GatewayMutation(Mutation, ApiKeyMutations):
    """The domain mutations plus the admins' API key mutations."""


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    # Every rule class is built once, here: rules built per request would be new classes
    # every time and miss the validation cache (strawberry issue #4635).
    rules = validation_rules(settings)
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
        {"max_operations": settings.max_batch_operations} if settings.max_batch_operations > 1 else None
    )
    schema = GatewaySchema(
        query=Query,
        mutation=GatewayMutation,
        types=list(NODE_TYPES.values()),
        extensions=extensions,
        config=StrawberryConfig(batching_config=batching),  # type: ignore[typeddict-item]
        scalar_overrides={Decimal: DECIMAL},
    )
    install_lean_resolvers(schema)
    return schema
