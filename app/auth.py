"""API keys: creation (hash only stored), revocation, lookup, and the principal a key stands for."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.crud.base import fail
from app.enums import Role
from app.errors import ErrorCode
from app.models import ApiKey, Organization, User
from app.sqltypes import utcnow
from app.tenancy import ROLE_ORDER, Principal
from app.validation import Problems

KEY_PREFIX = "og"
# last_used_at is written at most this often per key, so reads do not each cost a write
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def parse_key(key: str) -> tuple[str, str] | None:
    """`og_<prefix>_<secret>` → (prefix, secret); None for anything else."""
    parts = key.strip().split("_")
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


@dataclass(frozen=True)
class NewKey:
    key: str  # shown once; only its hash is stored
    api_key: ApiKey


async def ensure_user(
    session: AsyncSession, *, organization: str, email: str, display_name: str | None = None
) -> User:
    """The user `email` of organization `organization`, creating either if missing."""
    org = (await session.execute(select(Organization).where(Organization.name == organization))).scalar()
    if org is None:
        org = Organization(name=organization)
        session.add(org)
        await session.flush()
    user = (
        await session.execute(select(User).where(User.organization_id == org.id, User.email == email))
    ).scalar()
    if user is None:
        name = display_name or email.split("@")[0].replace(".", " ").title()
        user = User(organization_id=org.id, email=email, display_name=name)  # type: ignore[arg-type]
        session.add(user)
        await session.flush()
    return user


async def create_api_key(
    session: AsyncSession,
    *,
    user: User,
    roles: list[Role],
    name: str | None = None,
    expires_at: datetime | None = None,
) -> NewKey:
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(24).replace("_", "x")
    salt = secrets.token_hex(8)
    row = ApiKey(
        organization_id=user.organization_id,
        user_id=user.id,  # type: ignore[arg-type]
        name=name,
        prefix=prefix,
        salt=salt,
        secret_hash=_hash(salt, secret),
        roles=",".join(sorted({r.value for r in roles})),
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return NewKey(key=f"{KEY_PREFIX}_{prefix}_{secret}", api_key=row)


async def issue_api_key(
    session: AsyncSession,
    *,
    user_id: int | None,
    user_gid: Any,
    roles: list[Role],
    name: str | None,
    expires_at: datetime | None,
) -> NewKey:
    """A new key for user `user_id` of the session's organization, its input checked first.

    Problems are at the `createApiKey` input's paths; a user the session cannot see
    (another organization's, or none: `user_id` None) is NOT_FOUND at input.userId.
    """
    problems = Problems()
    name = problems.text(("input", "name"), name)
    if not roles:
        problems.add(("input", "roles"), ErrorCode.REQUIRED, "a key needs at least one role")
    given_expiry = expires_at
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)  # a time without an offset is UTC, as everywhere
    if expires_at is not None and expires_at <= utcnow():
        problems.add(
            ("input", "expiresAt"), ErrorCode.INVALID, "expiresAt must be in the future", given_expiry
        )
    problems.raise_if_any()
    user = None
    if user_id is not None:
        # scoped by the tenancy hook: a user of another organization is not found
        user = (await session.execute(select(User).where(User.id == user_id))).scalar()
    if user is None:
        raise fail(("input", "userId"), ErrorCode.NOT_FOUND, f"no user with id {user_gid!r}", user_gid)
    return await create_api_key(session, user=user, roles=roles, name=name, expires_at=expires_at)


async def authenticate(session: AsyncSession, key: str) -> Principal | None:
    """The principal for a presented key, or None if it is unknown, revoked or expired."""
    parsed = parse_key(key)
    if parsed is None:
        return None
    prefix, secret = parsed
    row = (await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))).scalar()
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(row.salt, secret)):
        return None
    now = utcnow()
    if not is_active(row, now):
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        await session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
        await session.commit()
    roles = frozenset(Role(r) for r in row.roles.split(",") if r)
    return Principal(organization_id=row.organization_id, user_id=row.user_id, roles=roles, api_key_id=row.id)


def roles_of(row: ApiKey) -> list[Role]:
    """A key's roles, least first."""
    return sorted((Role(r) for r in row.roles.split(",") if r), key=ROLE_ORDER.index)


def is_active(row: ApiKey, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return row.revoked_at is None and (row.expires_at is None or row.expires_at > now)


def api_keys_statement(*, include_revoked: bool = False) -> Any:
    """Keys newest first; the session's principal decides whose (an unscoped session: everyone's)."""
    stmt = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    return stmt if include_revoked else stmt.where(ApiKey.revoked_at.is_(None))


async def list_api_keys(session: AsyncSession, *, include_revoked: bool = False) -> list[ApiKey]:
    return list((await session.execute(api_keys_statement(include_revoked=include_revoked))).scalars())


async def revoke_api_key_or_fail(session: AsyncSession, key_id: int, *, path: str) -> ApiKey:
    """`revoke_api_key`, NOT_FOUND at `path` for a key the session cannot see."""
    row = await revoke_api_key(session, key_id)
    if row is None:
        raise fail((path,), ErrorCode.NOT_FOUND, f"no API key with id {key_id}")
    return row


async def revoke_api_key(session: AsyncSession, key_id: int) -> ApiKey | None:
    """Revoke a key at once; revoking a revoked key keeps its first revocation time."""
    row = (await session.execute(select(ApiKey).where(ApiKey.id == key_id))).scalar()
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    return row
