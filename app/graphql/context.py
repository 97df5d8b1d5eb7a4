"""The per-request context: who calls, how to reach the database, and this request's loaders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response

from app.db import begin_write, serialised_writes
from app.settings import Settings
from app.tenancy import SESSION_KEY, Principal


class Database:
    """Every statement of a request goes through here, on a session opened for its principal.

    Reads take a session (and so a pooled connection) each: loaders dispatch
    concurrently, and one asyncpg connection cannot run two statements at once
    (STACK.md). A mutation takes one session and one transaction for all it does.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], principal: Principal) -> None:
        self._sessions = sessions
        self.principal = principal
        bind = sessions.kw["bind"]
        self.dialect: str = bind.dialect.name

    async def rows(self, stmt: Any) -> Sequence[Any]:
        async with self._sessions() as session:
            session.info[SESSION_KEY] = self.principal
            return (await session.execute(stmt)).all()

    async def scalar(self, stmt: Any) -> Any:
        async with self._sessions() as session:
            session.info[SESSION_KEY] = self.principal
            return (await session.execute(stmt)).scalar()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with serialised_writes(self._sessions.kw["bind"]), self._sessions() as session, session.begin():
            session.info[SESSION_KEY] = self.principal
            await begin_write(session)
            yield session


@dataclass
class Context:
    request: Request | None
    settings: Settings
    principal: Principal
    db: Database
    loaders: Any  # app.graphql.loaders.Loaders; Any here to keep the import graph acyclic
    response: Response | None = None
    extras: dict[str, Any] = field(default_factory=dict)


Info = strawberry.Info[Context, None]
