"""Values in the organization's base currency: the totals of `opportunityAggregate.baseAmount`
and `OpportunityGroup.baseSums` (the SQL columns of app/base_currency.py, folded over the
per-currency rows the aggregate statements return), and a deal's own `baseAmount`, by the same
rule in Python from the organization's rates read once per request. Every value is an exact
Decimal."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from app import models as m
from app.base_currency import QUANTUM, deal_rate, in_base, in_base_exact, today
from app.graphql.context import Info


def amount() -> Any:
    """A deal's amount in the base currency (NULL without amount or rate)."""
    return in_base(m.Opportunity.amount, deal_rate())


def sums_columns(revenue: Any) -> list[Any]:
    """count of deals with a rate, sum of base amount, sum of base expected revenue."""
    rate = deal_rate()
    return [func.count(rate), func.sum(in_base(m.Opportunity.amount, rate)), func.sum(in_base(revenue, rate))]


async def currency(info: Info) -> str:
    """The caller's organization's base currency."""
    return str(await info.context.db.scalar(select(col(m.Organization.base_currency))))


_RATES = "base_totals.rates"


async def deal_amount(
    info: Info, amount: Decimal | None, currency: str | None, conversion_rate: Decimal | None
) -> Decimal | None:
    """A deal's amount in the base currency, as the aggregates count it (`deal_rate`): × its
    conversionRate, else its organization's latest rate for its currency valid today, else 1 in
    the base currency; None without an amount or a rate. 4 decimals, half even."""
    if amount is None:
        return None
    if conversion_rate is not None:
        return in_base_exact(amount, conversion_rate)
    base, rates = await _rates(info)
    rate = rates.get(currency or "")
    if rate is None and currency is not None and currency == base:
        rate = Decimal(1)
    return in_base_exact(amount, rate)


def _rates(info: Info) -> asyncio.Future[tuple[str, dict[str, Decimal]]]:
    """The base currency and today's rate of each currency: read once per request, however many
    deals ask (they share the one read in flight)."""
    pending = info.context.extras.get(_RATES)
    if pending is None:
        pending = info.context.extras[_RATES] = asyncio.ensure_future(_read_rates(info))
    return pending


async def _read_rates(info: Info) -> tuple[str, dict[str, Decimal]]:
    r = m.ExchangeRate
    stmt = (
        select(col(r.currency), col(r.rate))
        .where(col(r.valid_from) <= today())
        .order_by(col(r.currency), col(r.valid_from).desc())
    )
    latest: dict[str, Decimal] = {}
    for currency_, rate in await info.context.db.rows(stmt):
        latest.setdefault(currency_, rate)  # the first of each currency is its latest
    return await currency(info), latest


def _add(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    if a is None:
        return b
    return a if b is None else a + b


def add_sums(totals: Any, values: Sequence[Any]) -> None:
    """Add one currency's (count, amount, expected revenue) to a group's base totals."""
    count, base_amount, base_revenue = values
    totals.count += count
    totals.amount = _add(totals.amount, base_amount)
    totals.expected_revenue = _add(totals.expected_revenue, base_revenue)


async def money_stats(info: Info, stats_type: Any, per_currency: Sequence[Sequence[Any]]) -> Any:
    """Fold per-currency (count, sum, min, max) of base amounts into one MoneyStats."""
    present = [v for v in per_currency if v[0]]
    count = sum(v[0] for v in present)
    total: Decimal | None = None
    for v in present:
        total = _add(total, v[1])
    avg = None if total is None or not count else (total / count).quantize(QUANTUM, rounding=ROUND_HALF_EVEN)
    return stats_type(
        currency=await currency(info),
        count=count,
        sum=total,
        avg=avg,
        min=min((v[2] for v in present), default=None),
        max=max((v[3] for v in present), default=None),
    )
