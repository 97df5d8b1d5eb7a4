"""The database's own time limits (statement_timeout, lock_timeout) answer TIMEOUT, never a masked bug."""

from __future__ import annotations

import asyncpg
import pytest
from graphql import GraphQLError
from sqlalchemy import exc as sa
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.enums import Role
from app.masking import policed
from app.outages import is_outage, time_limit_of
from tests.support import Api, insert, make_tenant, opportunity, running_app


def _wrapped(cause: BaseException) -> GraphQLError:
    """As SQLAlchemy hands an asyncpg error to a resolver, and graphql-core wraps it."""
    dbapi = sa.DBAPIError("SELECT 1", {}, cause)
    return GraphQLError("boom", path=["opportunities"], original_error=dbapi)


@pytest.mark.parametrize(
    ("cause", "limit"),
    [
        (
            asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
            "statement_timeout",
        ),
        (asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout"), "lock_timeout"),
    ],
)
def test_a_statement_cancelled_by_the_database_is_timeout_not_an_outage(
    cause: BaseException, limit: str
) -> None:
    error = policed(_wrapped(cause))
    assert error.extensions == {"code": "TIMEOUT", "limit": limit}
    assert error.message == (
        f"The database gave up on this request at its time limit ({limit}); nothing of it was written."
    )
    assert error.path == ["opportunities"]
    assert time_limit_of(_wrapped(cause).original_error) == limit and not is_outage(cause)


def test_other_database_errors_are_not_time_limits() -> None:
    assert (
        time_limit_of(sa.DBAPIError("SELECT 1", {}, asyncpg.exceptions.UniqueViolationError("dup"))) is None
    )
    assert policed(_wrapped(ValueError("bug"))).extensions["code"] == "INTERNAL_SERVER_ERROR"  # type: ignore[index]


async def test_a_read_blocked_by_a_table_lock_is_a_504_timeout(database_url: str) -> None:
    async with running_app(database_url, db_lock_timeout_seconds=0.2) as (app, client):
        engine: AsyncEngine = app.state.engine
        if engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL's lock_timeout")
        tenant = await make_tenant(engine, "Acme", Role.ADMIN)
        await insert(engine, opportunity(tenant.organization_id, title="Kept"))
        api = Api(client, tenant.key)
        await api("{ opportunities { nodes { title } } }")  # the key looked up and cached first
        async with engine.connect() as holder:
            await holder.execute(text("LOCK TABLE opportunity IN ACCESS EXCLUSIVE MODE"))
            response = await api.raw("{ opportunities { nodes { title } } }")
            await holder.rollback()
        assert response.status_code == 504
        assert response.json() == {
            "data": None,
            "errors": [
                {
                    "message": "The database gave up on this request at its time limit (lock_timeout); "
                    "nothing of it was written.",
                    "locations": [{"line": 1, "column": 3}],
                    "path": ["opportunities"],
                    "extensions": {"code": "TIMEOUT", "limit": "lock_timeout"},
                }
            ],
        }
        assert (await api("{ opportunities { nodes { title } } }")) == {
            "opportunities": {"nodes": [{"title": "Kept"}]}
        }
