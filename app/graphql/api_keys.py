"""API keys for admins: the ApiKey type and `apiKeys` (its mutations: mutations/api_keys.py).

Keys belong to one organization like every other row (the tenancy hook scopes them), so
another organization's key is NOT_FOUND.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app import auth
from app import models as m
from app.enums import Role
from app.graphql.common import to_global_id
from app.graphql.context import Info
from app.graphql.permissions import ADMINISTER, needs
from app.graphql.users import User

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
        return await info.context.loaders.by_id(User).load(self.user_id)

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


@strawberry.type
class ApiKeyQueries:
    @strawberry.field(
        description="The organization's API keys, newest first (admins only).", extensions=[needs(ADMINISTER)]
    )
    async def api_keys(
        self,
        info: Info,
        include_revoked: Annotated[bool, strawberry.argument(description="Also list revoked keys.")] = False,
    ) -> list[ApiKey]:
        rows = await info.context.db.rows(auth.api_keys_statement(include_revoked=include_revoked))
        return [ApiKey.of(row[0]) for row in rows]
