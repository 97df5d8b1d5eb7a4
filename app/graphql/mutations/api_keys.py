"""`createApiKey` and `revokeApiKey` (admins). Their writes, and the rules of a key, are in app/auth.py.

Only a salted hash of a key is stored, so the key itself is in `createApiKey`'s payload
once and nowhere else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app import auth
from app.crud.refs import decode
from app.enums import Role
from app.graphql.api_keys import ApiKey
from app.graphql.common import GlobalID, UserError
from app.graphql.context import Info
from app.graphql.mutations.mutate import Outcome, Ref, mutate, mutation
from app.graphql.permissions import ADMINISTER
from app.models import ApiKey as ApiKeyRow


@strawberry.input(description="A new API key.")
class CreateApiKeyInput:
    roles: list[Role] = strawberry.field(description="What the key may do; at least one role.")
    name: str | None = strawberry.field(
        default=None, description="What the key is for, up to 255 characters."
    )
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="The user the key acts as; default: the caller."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When it stops working, in the future; default: never."
    )


@strawberry.type(description="The result of `createApiKey`.")
class CreateApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description="The new key's record; null when there are errors.")
    key: str | None = strawberry.field(
        description="The key to send as `Authorization: Bearer <key>`. Shown this once: only its hash is kept."
    )
    errors: list[UserError] = strawberry.field(description="What was wrong; empty on success.")


@strawberry.type(description="The result of `revokeApiKey`.")
class ApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description="The key, now revoked; null when there are errors.")
    errors: list[UserError] = strawberry.field(description="What was wrong; empty on success.")


async def created_payload(info: Info, outcome: Outcome[auth.NewKey]) -> CreateApiKeyPayload:
    created = outcome.value
    if created is None:
        return CreateApiKeyPayload(api_key=None, key=None, errors=outcome.errors)
    return CreateApiKeyPayload(api_key=ApiKey.of(created.api_key), key=created.key, errors=[])


async def revoked_payload(info: Info, outcome: Outcome[ApiKeyRow]) -> ApiKeyPayload:
    row = outcome.value
    return ApiKeyPayload(api_key=None if row is None else ApiKey.of(row), errors=outcome.errors)


@strawberry.type
class ApiKeyMutations:
    @mutation(ADMINISTER, "Create an API key for a user of the organization (admins only).")
    async def create_api_key(
        self,
        info: Info,
        input: Annotated[CreateApiKeyInput, strawberry.argument(description="The key to create.")],  # noqa: A002
    ) -> CreateApiKeyPayload:
        # an id that names no user of the organization is NOT_FOUND at input.userId, after the other checks
        user_id = info.context.principal.user_id if input.user_id is None else decode("User", input.user_id)

        async def work(s: AsyncSession) -> auth.NewKey:
            return await auth.issue_api_key(
                s,
                user_id=user_id,
                user_gid=input.user_id,
                roles=input.roles,
                name=input.name,
                expires_at=input.expires_at,
            )

        return await mutate(info, created_payload, work)

    @mutation(ADMINISTER, "Revoke an API key at once; it stops authenticating (admins only).")
    async def revoke_api_key(self, info: Info, id: GlobalID) -> ApiKeyPayload:  # noqa: A002
        return await mutate(
            info,
            revoked_payload,
            lambda s, pk: auth.revoke_api_key_or_fail(s, pk, path="id"),
            Ref("id", "ApiKey", id),
        )
