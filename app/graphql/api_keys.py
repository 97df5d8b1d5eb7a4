"""API keys for admins: the ApiKey type, `apiKeys`, `createApiKey` and `revokeApiKey`.

Only a salted hash of a key is stored, so the key itself is in `createApiKey`'s payload
once and nowhere else. Keys belong to one organization like every other row (the
tenancy hook scopes them), so another organization's key is NOT_FOUND.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import auth
from app import models as m
from app.enums import Role
from app.errors import ErrorCode, UserErrorData
from app.graphql.common import GlobalID, UserError, from_global_id, to_global_id
from app.graphql.context import Info
from app.graphql.mutations.payloads import run
from app.graphql.permissions import ADMINISTER, require
from app.graphql.users import User
from app.sqltypes import utcnow
from app.validation import Invalid, Problems

strawberry.enum(Role, description="What a key may do; each role includes the ones before it.")


@strawberry.type(description="A credential for the API. The key itself is shown once, when it is created.")
class ApiKey:
    pk: strawberry.Private[int]
    user_id: strawberry.Private[int]
    name: str | None = strawberry.field(description="What the key is for, to tell keys apart.")
    prefix: str = strawberry.field(
        description="The visible part of the key (`og_<prefix>_…`), to identify it."
    )
    roles: list[Role] = strawberry.field(description="What the key may do.")
    created_at: datetime = strawberry.field(description="When it was created.")
    last_used_at: datetime | None = strawberry.field(
        description="When it last authenticated a request (recorded at most once a minute)."
    )
    expires_at: datetime | None = strawberry.field(description="When it stops working; null: never.")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked; null: not revoked.")
    is_active: bool = strawberry.field(description="Neither revoked nor expired: it authenticates.")

    @strawberry.field(description="Global id of this key.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("ApiKey", self.pk))

    @strawberry.field(description="The user the key acts as.")
    async def user(self, info: Info) -> User | None:
        return await info.context.loaders.by_id(User).load(self.user_id)  # type: ignore[no-any-return]

    @classmethod
    def of(cls, row: m.ApiKey) -> ApiKey:
        assert row.id is not None
        return cls(
            pk=row.id,
            user_id=row.user_id,
            name=row.name,
            prefix=row.prefix,
            roles=auth.roles_of(row),
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            is_active=auth.is_active(row),
        )


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


def _pk(type_name: str, gid: object) -> int | None:
    decoded = from_global_id(str(gid))
    return decoded[1] if decoded is not None and decoded[0] == type_name else None


def _missing(path: tuple[str, ...], what: str, gid: object) -> Invalid:
    return Invalid([UserErrorData(path, f"no {what} with id {gid!r}", ErrorCode.NOT_FOUND, gid)])


async def _create(session: AsyncSession, info: Info, data: CreateApiKeyInput) -> auth.NewKey:
    problems = Problems()
    name = problems.text(("input", "name"), data.name)
    if not data.roles:
        problems.add(("input", "roles"), ErrorCode.REQUIRED, "a key needs at least one role")
    expires_at = data.expires_at
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)  # a time without an offset is UTC, as everywhere
    if expires_at is not None and expires_at <= utcnow():
        problems.add(
            ("input", "expiresAt"), ErrorCode.INVALID, "expiresAt must be in the future", data.expires_at
        )
    problems.raise_if_any()
    user_pk = info.context.principal.user_id if data.user_id is None else _pk("User", data.user_id)
    user = None
    if user_pk is not None:
        # scoped by the tenancy hook: a user of another organization is not found
        user = (await session.execute(select(m.User).where(m.User.id == user_pk))).scalar()
    if user is None:
        raise _missing(("input", "userId"), "user", data.user_id)
    return await auth.create_api_key(session, user=user, roles=data.roles, name=name, expires_at=expires_at)


@strawberry.type
class ApiKeyQueries:
    @strawberry.field(description="The organization's API keys, newest first (admins only).")
    async def api_keys(
        self,
        info: Info,
        include_revoked: Annotated[bool, strawberry.argument(description="Also list revoked keys.")] = False,
    ) -> list[ApiKey]:
        require(info, ADMINISTER)
        rows = await info.context.db.rows(auth.api_keys_statement(include_revoked=include_revoked))
        return [ApiKey.of(row[0]) for row in rows]


@strawberry.type
class ApiKeyMutations:
    @strawberry.mutation(description="Create an API key for a user of the organization (admins only).")
    async def create_api_key(
        self,
        info: Info,
        input: Annotated[CreateApiKeyInput, strawberry.argument(description="The key to create.")],  # noqa: A002
    ) -> CreateApiKeyPayload:
        require(info, ADMINISTER)
        outcome = await run(info, lambda session: _create(session, info, input))
        if outcome.value is None:
            return CreateApiKeyPayload(api_key=None, key=None, errors=outcome.errors)
        created = outcome.value
        return CreateApiKeyPayload(api_key=ApiKey.of(created.api_key), key=created.key, errors=[])

    @strawberry.mutation(description="Revoke an API key at once; it stops authenticating (admins only).")
    async def revoke_api_key(self, info: Info, id: GlobalID) -> ApiKeyPayload:  # noqa: A002
        require(info, ADMINISTER)
        pk = _pk("ApiKey", id)

        async def revoke(session: AsyncSession) -> ApiKey:
            row = None if pk is None else await auth.revoke_api_key(session, pk)
            if row is None:
                raise _missing(("id",), "API key", id)
            return ApiKey.of(row)

        outcome = await run(info, revoke)
        return ApiKeyPayload(api_key=outcome.value, errors=outcome.errors)
