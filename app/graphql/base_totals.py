"""Totals in the organization's base currency for `opportunityAggregate.baseAmount` and
`OpportunityGroup.baseSums`: the SQL columns (app/base_currency.py) and their folding over the
per-currency rows the aggregate statements return. Every value is an exact Decimal."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from app import models as m
from app.base_currency import QUANTUM, deal_rate, in_base
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
