"""Pipeline totals and forecasts: `opportunityAggregate` and `opportunityGroups`, computed in SQL.

Both run one GROUP BY statement over the deals the caller may see (the tenancy
hook scopes it like any list) that match the same filter input as
`opportunities`. Money is never added across currencies: every sum, average,
minimum and maximum of `amount` and `expectedRevenue` is per currency, and
`expectedRevenue` is summed from the same SQL expression the field and its
filter use. Averages are sum / count in Python, so they are exact Decimals on
SQLite too (where money is a scaled integer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Annotated, Any

import strawberry
from sqlalchemy import case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String

from app import models as m
from app.errors import BadUserInput
from app.graphql import base_totals
from app.graphql.context import Info
from app.graphql.customers import Customer
from app.graphql.enums import OpportunityStatus
from app.graphql.lists import filter_where
from app.graphql.opportunities import OpportunityFilter, expected_revenue_expr
from app.graphql.pipelines import Pipeline, Stage
from app.graphql.prefetch import selects
from app.graphql.relations import rel
from app.graphql.users import User
from app.money import QUANTUM

# ---------------------------------------------------------------- SQL pieces


class year_month(FunctionElement[str]):
    """A date as "YYYY-MM", spelled per dialect."""

    type = String()
    name = "year_month"
    inherit_cache = True


@compiles(year_month)
def _year_month_pg(element: year_month, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"


@compiles(year_month, "sqlite")
def _year_month_sqlite(element: year_month, compiler: Any, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


def _average(total: Decimal | int | None, count: int) -> Decimal | None:
    if total is None or count == 0:
        return None
    return (Decimal(total) / count).quantize(QUANTUM, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------- aggregate


@strawberry.type(description="Statistics of a money field over the deals in one currency.")
class MoneyStats:
    currency: str | None = strawberry.field(description="ISO 4217 code; null for deals without one.")
    count: int = strawberry.field(description="Deals in this currency that have a value.")
    sum: Decimal | None = strawberry.field(description="Sum of the values; null when none has one.")
    avg: Decimal | None = strawberry.field(description="Mean value, exact to 4 decimal places.")
    min: Decimal | None = strawberry.field(description="Smallest value.")
    max: Decimal | None = strawberry.field(description="Largest value.")


@strawberry.type(description="Statistics of an integer field over the deals.")
class IntStats:
    count: int = strawberry.field(description="Deals that have a value.")
    sum: int | None = strawberry.field(description="Sum of the values; null when none has one.")
    avg: Decimal | None = strawberry.field(description="Mean value, exact to 4 decimal places.")
    min: int | None = strawberry.field(description="Smallest value.")
    max: int | None = strawberry.field(description="Largest value.")


@strawberry.type(description="Totals over all deals matching a filter; money per currency.")
class OpportunityAggregate:
    count: int = strawberry.field(description="How many deals match.")
    amount: list[MoneyStats] = strawberry.field(
        description="Statistics of `amount`, one entry per currency, by currency code."
    )
    expected_revenue: list[MoneyStats] = strawberry.field(
        description="Statistics of `expectedRevenue` (the weighted forecast), one entry per currency."
    )
    probability: IntStats = strawberry.field(description="Statistics of `probability`.")
    base_amount: MoneyStats = strawberry.field(
        description="Statistics of `amount` in the organization's base currency, over all currencies: "
        "each deal's amount × its rate (its conversionRate, else the organization's latest exchange "
        "rate for its currency valid today, else 1 in the base currency), rounded to 4 decimals half "
        "even. Deals without a rate are left out; `count` says how many were counted."
    )


def _stats_columns(expr: Any) -> list[Any]:
    """count, sum, min, max of one field: the four columns every statistic reads."""
    return [func.count(expr), func.sum(expr), func.min(expr), func.max(expr)]


# Where each field's four columns sit in a row of the aggregate statement (after currency, count).
AMOUNT, REVENUE, PROBABILITY, BASE = slice(2, 6), slice(6, 10), slice(10, 14), slice(14, 18)


def _money_stats(currency: str | None, values: Sequence[Any]) -> MoneyStats:
    count, total, low, high = values
    return MoneyStats(
        currency=currency, count=count, sum=total, avg=_average(total, count), min=low, max=high
    )


def _int_stats(per_currency: Sequence[Sequence[Any]]) -> IntStats:
    """Fold per-currency (count, sum, min, max) of an integer field: integers add across currencies."""
    present = [values for values in per_currency if values[0]]
    count = sum(v[0] for v in present)
    total = sum(v[1] for v in present) if present else None
    return IntStats(
        count=count,
        sum=total,
        avg=_average(total, count),
        min=min((v[2] for v in present), default=None),
        max=max((v[3] for v in present), default=None),
    )


async def aggregate(info: Info, flt: Any) -> OpportunityAggregate:
    """One statement, grouped by currency; the totals over all currencies are folded here."""
    o = m.Opportunity
    base = selects(info, "baseAmount")  # its columns only when asked for: they cost a rate lookup a row
    stmt = (
        select(
            o.currency,
            func.count(),
            *_stats_columns(o.amount),
            *_stats_columns(expected_revenue_expr()),
            *_stats_columns(o.probability),
            *(_stats_columns(base_totals.amount()) if base else ()),
        )
        .where(await filter_where(info, flt))
        .group_by(o.currency)
        .order_by(o.currency.asc().nulls_last())
    )
    rows = await info.context.db.rows(stmt)
    return OpportunityAggregate(
        count=sum(r[1] for r in rows),
        amount=[_money_stats(r[0], r[AMOUNT]) for r in rows if r[AMOUNT][0]],
        expected_revenue=[_money_stats(r[0], r[REVENUE]) for r in rows if r[REVENUE][0]],
        probability=_int_stats([r[PROBABILITY] for r in rows]),
        # not selected: never read, so not computed
        base_amount=await base_totals.money_stats(info, MoneyStats, [r[BASE] for r in rows])
        if base
        else None,
    )


# ---------------------------------------------------------------- groups


@strawberry.enum(description="What `opportunityGroups` groups deals by.")
class OpportunityGroupBy(Enum):
    STAGE = "STAGE"
    STATUS = "STATUS"
    OWNER = "OWNER"
    PIPELINE = "PIPELINE"
    CUSTOMER = "CUSTOMER"
    EXPECTED_CLOSE_MONTH = "EXPECTED_CLOSE_MONTH"


@strawberry.type(description="Sums of one group's deals in one currency.")
class CurrencyTotals:
    currency: str | None = strawberry.field(description="ISO 4217 code; null for deals without one.")
    count: int = strawberry.field(description="Deals of the group in this currency.")
    amount: Decimal | None = strawberry.field(description="Sum of `amount`; null when none has one.")
    expected_revenue: Decimal | None = strawberry.field(
        description="Sum of `expectedRevenue`: the weighted forecast."
    )


@strawberry.type(
    description="Deals sharing one key (or one combination of keys); a key not grouped by is null."
)
class OpportunityGroup:
    count: int = strawberry.field(description="How many deals are in the group.")
    status: OpportunityStatus | None = strawberry.field(description="The status, when grouped by STATUS.")
    expected_close_month: str | None = strawberry.field(
        description='The expected close month as "YYYY-MM", when grouped by it; null for deals without a date.'
    )
    sums: list[CurrencyTotals] = strawberry.field(
        description="Sums of amount and expectedRevenue per currency, by currency code."
    )
    base_sums: CurrencyTotals = strawberry.field(
        description="Sums of amount and expectedRevenue in the organization's base currency, over all "
        "currencies (each deal's values × its rate, as in `opportunityAggregate.baseAmount`); `count` is "
        "the deals that have a rate, the others are left out; no such deal: count 0 and null sums."
    )
    stage_id: strawberry.Private[int | None]
    owner_id: strawberry.Private[int | None]
    pipeline_id: strawberry.Private[int | None]
    customer_id: strawberry.Private[int | None]

    # the group's key columns read as the deal's own (the pipeline as the stage's)
    stage = rel(
        m.Opportunity.stage_id, Stage, "The stage, when grouped by STAGE; null for deals without one."
    )
    owner = rel(m.Opportunity.owner_id, User, "The owner, when grouped by OWNER; null for deals without one.")
    pipeline = rel(m.Stage.pipeline_id, Pipeline, "The pipeline, when grouped by PIPELINE.")
    customer = rel(m.Opportunity.customer_id, Customer, "The customer, when grouped by CUSTOMER.")


@dataclass(frozen=True)
class GroupKey:
    """How one OpportunityGroupBy value becomes SQL: its value, the joins it needs, its sort."""

    attr: str  # the OpportunityGroup attribute the value goes in
    value: Callable[[], Any]
    order: Callable[[], Sequence[Any]]  # sort terms before the value itself (board order, names)
    joins: tuple[str, ...] = ()
    convert: Callable[[Any], Any] = lambda v: v


_STATUS_ORDER = {"OPEN": 1, "WON": 2, "LOST": 3}

GROUP_KEYS: dict[OpportunityGroupBy, GroupKey] = {
    OpportunityGroupBy.STAGE: GroupKey(
        "stage_id",
        lambda: m.Opportunity.stage_id,
        lambda: (m.Stage.pipeline_id, m.Stage.position),
        joins=("stage",),
    ),
    OpportunityGroupBy.STATUS: GroupKey(
        "status",
        lambda: m.Opportunity.status,
        lambda: (case(_STATUS_ORDER, value=m.Opportunity.status, else_=4),),
        convert=lambda v: OpportunityStatus(v),
    ),
    OpportunityGroupBy.OWNER: GroupKey(
        "owner_id", lambda: m.Opportunity.owner_id, lambda: (m.User.display_name,), joins=("user",)
    ),
    OpportunityGroupBy.PIPELINE: GroupKey(
        "pipeline_id", lambda: m.Stage.pipeline_id, lambda: (m.Pipeline.name,), joins=("stage", "pipeline")
    ),
    OpportunityGroupBy.CUSTOMER: GroupKey(
        "customer_id", lambda: m.Opportunity.customer_id, lambda: (m.Customer.name,), joins=("customer",)
    ),
    OpportunityGroupBy.EXPECTED_CLOSE_MONTH: GroupKey(
        "expected_close_month", lambda: year_month(m.Opportunity.expected_close_date), lambda: ()
    ),
}

# Outer joins, so deals without the related row still form a (null-keyed) group; the
# tenancy hook adds each joined table's criteria to its ON clause.
_JOINS: dict[str, Callable[[], tuple[Any, Any]]] = {
    "stage": lambda: (m.Stage, m.Stage.id == m.Opportunity.stage_id),
    "pipeline": lambda: (m.Pipeline, m.Pipeline.id == m.Stage.pipeline_id),
    "user": lambda: (m.User, m.User.id == m.Opportunity.owner_id),
    "customer": lambda: (m.Customer, m.Customer.id == m.Opportunity.customer_id),
}


def groups_statement(group_by: Sequence[OpportunityGroupBy], where: Any, *, base: bool = False) -> Any:
    keys = [GROUP_KEYS[g] for g in group_by]
    values = [k.value().label(f"_g{i}") for i, k in enumerate(keys)]
    sort = [term for k, v in zip(keys, values, strict=True) for term in (*k.order(), v)]
    o = m.Opportunity
    stmt = select(*values, o.currency, func.count(), func.sum(o.amount), func.sum(expected_revenue_expr()))
    if base:
        stmt = stmt.add_columns(*base_totals.sums_columns(expected_revenue_expr()))
    stmt = stmt.select_from(o)
    for join in dict.fromkeys(j for k in keys for j in k.joins):
        stmt = stmt.outerjoin(*_JOINS[join]())
    return (
        stmt.where(where)
        .group_by(*sort, o.currency)
        .order_by(*(t.asc().nulls_last() for t in sort), o.currency.asc().nulls_last())
    )


def fold_groups(
    group_by: Sequence[OpportunityGroupBy], rows: Sequence[Any], base_currency: str | None = None
) -> list[OpportunityGroup]:
    """Rows come one per (group, currency), already in group order; gather each group's currencies
    (and, with `base_currency`, add up their base-currency columns)."""
    keys = [GROUP_KEYS[g] for g in group_by]
    n = len(keys)
    groups: dict[tuple[Any, ...], OpportunityGroup] = {}
    for row in rows:
        key = tuple(row[:n])
        group = groups.get(key)
        if group is None:
            fields: dict[str, Any] = dict.fromkeys(
                ("status", "expected_close_month", "stage_id", "owner_id", "pipeline_id", "customer_id")
            )
            for k, value in zip(keys, key, strict=True):
                fields[k.attr] = None if value is None else k.convert(value)
            base_sums = CurrencyTotals(currency=base_currency, count=0, amount=None, expected_revenue=None)
            group = groups[key] = OpportunityGroup(count=0, sums=[], base_sums=base_sums, **fields)
        currency, count, amount, revenue = row[n : n + 4]
        if base_currency is not None:
            base_totals.add_sums(group.base_sums, row[n + 4 : n + 7])
        group.count += count
        group.sums.append(
            CurrencyTotals(currency=currency, count=count, amount=amount, expected_revenue=revenue)
        )
    return list(groups.values())


async def groups(info: Info, group_by: list[OpportunityGroupBy], flt: Any) -> list[OpportunityGroup]:
    if not group_by:
        raise BadUserInput("`groupBy` needs at least one key", argument="groupBy")
    if len(set(group_by)) != len(group_by):
        raise BadUserInput("`groupBy` names a key twice", argument="groupBy")
    base = selects(info, "baseSums")
    where = await filter_where(info, flt)
    rows = await info.context.db.rows(groups_statement(group_by, where, base=base))
    return fold_groups(group_by, rows, await base_totals.currency(info) if base else None)


# ---------------------------------------------------------------- root fields


@strawberry.type
class AggregateQueries:
    @strawberry.field(
        description="Totals over the deals matching `filter`: count, and sum/avg/min/max of amount, "
        "expectedRevenue (per currency) and probability."
    )
    async def opportunity_aggregate(
        self,
        info: Info,
        filter: Annotated[  # noqa: A002
            OpportunityFilter | None, strawberry.argument(description="Only deals matching this filter.")
        ] = None,
    ) -> OpportunityAggregate:
        return await aggregate(info, filter)

    @strawberry.field(
        description="Pipeline board totals and forecasts: the deals matching `filter` grouped by one or "
        "more keys, each group with its key(s), count and per-currency sums of amount and expectedRevenue. "
        "Groups come in key order: stages in board order, owners and customers by name, months ascending; "
        "deals without a key value form the last group."
    )
    async def opportunity_groups(
        self,
        info: Info,
        group_by: Annotated[
            list[OpportunityGroupBy],
            strawberry.argument(description="One or more keys; a group per combination of their values."),
        ],
        filter: Annotated[  # noqa: A002
            OpportunityFilter | None, strawberry.argument(description="Only deals matching this filter.")
        ] = None,
    ) -> list[OpportunityGroup]:
        return await groups(info, group_by, filter)
