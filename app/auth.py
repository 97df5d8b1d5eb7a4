"""API keys: creation (hash only stored), revocation, verification, and the cached lookup of the request path."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.crud.base import fail
from app.db import read_retrying
from app.enums import Role
from app.errors import ErrorCode
from app.models import ApiKey, Organization, User
from app.sqltypes import utcnow
from app.tenancy import ROLE_ORDER, SESSION_KEY, UNSCOPED, Principal
from app.validation import Problems

KEY_PREFIX = "og"
log = logging.getLogger("opportunity_gateway")
# A key looked up once is trusted for this long without asking the database again: a
# revocation (or an expiry set in SQL) made in another process takes effect within it.
KEY_CACHE_SECONDS = 5.0
# last_used_at is stamped at most this often per key, so reads do not each cost a write ...
LAST_USED_RESOLUTION = timedelta(minutes=1)
# ... and the stamps are written in one batch this often, off the request path.
STAMP_INTERVAL_SECONDS = 10.0


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
        user = User(organization_id=org.id, email=email, display_name=name)
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
        user_id=user.id,
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


async def verify(session: AsyncSession, key: str) -> ApiKey | None:
    """The stored key a presented key stands for, or None if it is unknown, revoked or expired."""
    parsed = parse_key(key)
    if parsed is None:
        return None
    prefix, secret = parsed
    row = (await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))).scalar()
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(row.salt, secret)):
        return None
    return row if is_active(row) else None


def principal_of(row: ApiKey) -> Principal:
    roles = frozenset(Role(r) for r in row.roles.split(",") if r)
    assert row.id is not None
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
        forget_key(key_id)  # at once in this process; elsewhere within KEY_CACHE_SECONDS
    return row


# ---------------------------------------------------------------- the request path


@dataclass
class _Known:
    principal: Principal
    expires_at: datetime | None
    trusted_until: float  # on the cache's clock
    stamped_at: datetime | None  # last_used_at as stored, or as last stamped here


_LIVE: weakref.WeakSet[Keys] = weakref.WeakSet()


def forget_key(api_key_id: int) -> None:
    """A key was revoked in this process: no cache here may trust it any longer."""
    for keys in list(_LIVE):
        keys.forget(api_key_id)


class Keys:
    """The principal for a presented key, cached in process, with its last-used stamp written later.

    A hit costs no database round trip. An entry is trusted for `ttl` seconds (of
    `clock`, monotonic; tests pass a fake one), so a revocation made elsewhere (another
    worker, the CLI, SQL) takes effect within `ttl`; one made in this process at once
    (`forget_key`); an expiry at its time, cache or not. Only keys that verified are
    kept: a key created a moment ago works at once, and unknown keys cannot fill the
    cache. At most `max_entries` are kept, the oldest dropped first.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl: float = KEY_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self.sessions = sessions
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._known: dict[bytes, _Known] = {}
        self._lookups: dict[bytes, asyncio.Future[_Known | None]] = {}
        self.stamps = Stamps(sessions)
        _LIVE.add(self)

    async def principal(self, key: str) -> Principal | None:
        digest = hashlib.sha256(key.encode()).digest()  # the cache holds no secret
        now = utcnow()
        known = self._known.get(digest)
        if known is None or known.trusted_until <= self.clock():
            known = await self._look_up_once(digest, key)
            if known is None:
                return None
        if known.expires_at is not None and known.expires_at <= now:
            del self._known[digest]
            return None
        if known.stamped_at is None or now - known.stamped_at > LAST_USED_RESOLUTION:
            known.stamped_at = now
            self.stamps.note(known.principal.api_key_id, now)
        return known.principal

    async def _look_up_once(self, digest: bytes, key: str) -> _Known | None:
        # When an entry runs out under load, every request of that key misses at once: one
        # lookup answers them all instead of one each.
        lookup = self._lookups.get(digest)
        if lookup is None:
            lookup = self._lookups[digest] = asyncio.ensure_future(self._look_up(digest, key))
            lookup.add_done_callback(lambda _: self._lookups.pop(digest, None))
        return await asyncio.shield(lookup)

    async def _look_up(self, digest: bytes, key: str) -> _Known | None:
        self._known.pop(digest, None)

        async def read() -> ApiKey | None:
            async with self.sessions() as session:
                session.info[SESSION_KEY] = UNSCOPED  # the key lookup precedes any tenant
                return await verify(session, key)

        row = await read_retrying(read)
        if row is None:
            return None
        known = _Known(principal_of(row), row.expires_at, self.clock() + self.ttl, row.last_used_at)
        self._known[digest] = known
        while len(self._known) > self.max_entries:
            del self._known[next(iter(self._known))]
        return known

    def forget(self, api_key_id: int) -> None:
        for digest, known in list(self._known.items()):
            if known.principal.api_key_id == api_key_id:
                del self._known[digest]

    async def close(self) -> None:
        """At shutdown: write the stamps still pending."""
        await self.stamps.close()


class Stamps:
    """`last_used_at` stamps, written in one statement per batch, off the request path.

    `note` only records the time (one entry per key, so the backlog is bounded by the
    number of keys, and by `max_pending` before a batch is written early); a timer writes
    the batch `interval` seconds later. A batch that fails is kept for the next one and
    logged; `close()` (in the app's shutdown) writes what is left, and logs what it
    could not write, so no stamp is lost without a word.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        interval: float = STAMP_INTERVAL_SECONDS,
        max_pending: int = 1000,
    ) -> None:
        self.sessions = sessions
        self.interval = interval
        self.max_pending = max_pending
        self.pending: dict[int, datetime] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def note(self, api_key_id: int | None, at: datetime) -> None:
        if api_key_id is None:
            return
        self.pending[api_key_id] = max(at, self.pending.get(api_key_id, at))
        if len(self.pending) >= self.max_pending:
            self._start()
        elif self._timer is None and self._task is None:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._start)

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            await self.flush()
        finally:
            self._task = None

    async def flush(self) -> None:
        """Write every pending stamp now, in one transaction; on failure keep them for the next try."""
        batch, self.pending = self.pending, {}
        if not batch:
            return
        table = ApiKey.__table__
        stmt = update(table).where(table.c.id == bindparam("key_id")).values(last_used_at=bindparam("at"))
        try:
            async with self.sessions() as session, session.begin():
                session.info[SESSION_KEY] = UNSCOPED
                await session.execute(stmt, [{"key_id": k, "at": at} for k, at in batch.items()])
        except Exception:
            for key_id, at in batch.items():
                self.pending[key_id] = max(at, self.pending.get(key_id, at))
            log.warning("could not write %d API key last-used stamps; kept for the next try", len(batch))

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            await self._task
        await self.flush()
        if self.pending:
            log.warning("lost %d API key last-used stamps at shutdown", len(self.pending))
