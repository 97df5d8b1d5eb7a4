"""Exchange rates to the organization's base currency: set (per currency and first valid day) and delete.

Setting a rate for a (currency, day) that has one replaces it: INSERT … ON CONFLICT on the unique
(organization, currency, valid_from), so two admins setting the same day at once make one row.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app import models as m
from app.base_currency import RATE_SCALE
from app.crud.base import fail, fetch, now, principal
from app.errors import ErrorCode
from app.validation import Problems

R = m.ExchangeRate
MAX_RATE = Decimal(10) ** 8  # the bound of a deal's conversionRate too


async def set_rate(session: AsyncSession, *, currency: str, rate: Decimal, valid_from: date) -> int:
    """The rate of one unit of `currency` in the base currency from `valid_from` on; returns its id."""
    problems = Problems()
    code = problems.currency(["input", "currency"], currency)
    problems.money(["input", "rate"], rate, scale=RATE_SCALE, minimum=Decimal("0.000001"), maximum=MAX_RATE)
    problems.date_range(["input", "validFrom"], valid_from)
    org = principal(session).organization_id
    base = await session.scalar(select(m.Organization.base_currency).where(m.Organization.id == org))
    if code is not None and code == base:
        problems.add(
            ["input", "currency"],
            ErrorCode.INVALID,
            f"{code} is the base currency: its rate is always 1",
            currency,
        )
    problems.raise_if_any()
    values = {
        "organization_id": org,
        "currency": code,
        "rate": rate,
        "valid_from": valid_from,
        "created_at": now(),
    }
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(R).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["organization_id", "currency", "valid_from"], set_={"rate": stmt.excluded.rate}
    ).returning(R.id)
    return int((await session.execute(stmt)).scalar_one())


async def delete_rate(session: AsyncSession, *, rate_id: int) -> int:
    if await fetch(session, R, rate_id) is None:
        raise fail(["id"], ErrorCode.NOT_FOUND, "no such exchange rate")
    await session.execute(delete(R).where(R.id == rate_id).execution_options(synchronize_session=False))
    return rate_id
