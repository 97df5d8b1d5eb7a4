"""Exchange rates in the schema: the `ExchangeRate` type, the `exchangeRates` list, and the admins'
`setExchangeRate` / `deleteExchangeRate` (app/crud/rates.py; how rates are used: app/base_currency.py)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from app import models as m
from app.crud import rates as crud
from app.graphql.common import DateFilter, Node, StringFilter, UserError
from app.graphql.context import Info
from app.graphql.mutations.mutate import Outcome, Ref, mutate, mutation
from app.graphql.mutations.payloads import DeletePayload, arg, deleted, load
from app.graphql.permissions import ADMINISTER
from app.graphql.registry import entity
from app.graphql.relations import list_root


@strawberry.type(
    description="How many units of the organization's base currency one unit of `currency` is worth, "
    "from `validFrom` on, until a later rate of the same currency. A deal without a conversionRate "
    "takes the latest rate valid on the day of the query."
)
class ExchangeRate(Node):
    currency: str = strawberry.field(description="ISO 4217 code of the currency converted from.")
    rate: Decimal = strawberry.field(description="Base-currency units per unit of `currency` (6 decimals).")
    valid_from: date = strawberry.field(description="The first day the rate applies.")
    created_at: datetime = strawberry.field(description="When it was set.")


EXCHANGE_RATE = entity(
    ExchangeRate,
    m.ExchangeRate,
    filters={
        "currency": (StringFilter, "By currency code."),
        "valid_from": (DateFilter, "By first valid day."),
    },
    filter_doc="Which exchange rates to return. Fields are combined with AND.",
    orders=["ID", "CURRENCY", "VALID_FROM", "RATE"],
    default_order=(("CURRENCY", False), ("VALID_FROM", True)),
)


@strawberry.input(
    description="An exchange rate to set; one already set for that currency and day is replaced."
)
class SetExchangeRateInput:
    currency: str = strawberry.field(description="ISO 4217 code; not the base currency.")
    rate: Decimal = strawberry.field(description="Base-currency units per unit, over 0, at most 6 decimals.")
    valid_from: date = strawberry.field(description="The first day it applies.")


@strawberry.type(description="The result of setting an exchange rate.")
class ExchangeRatePayload:
    exchange_rate: ExchangeRate | None = strawberry.field(description="The rate as stored; null on errors.")
    errors: list[UserError] = strawberry.field(
        description="Problems with the input; when any, nothing was written."
    )


async def _payload(info: Info, outcome: Outcome[int]) -> ExchangeRatePayload:
    return ExchangeRatePayload(
        exchange_rate=await load(info, ExchangeRate, outcome.value), errors=outcome.errors
    )


@strawberry.type
class RateQueries:
    exchange_rates = list_root(
        ExchangeRate, "The organization's exchange rates to its base currency, by currency, newest first."
    )


@strawberry.type
class RateMutations:
    @mutation(ADMINISTER, "Set the rate of a currency to the base currency from a day on (admins).")
    async def set_exchange_rate(
        self,
        info: Info,
        input: Annotated[SetExchangeRateInput, arg("The rate.")],  # noqa: A002
    ) -> ExchangeRatePayload:
        return await mutate(
            info,
            _payload,
            lambda s: crud.set_rate(s, currency=input.currency, rate=input.rate, valid_from=input.valid_from),
        )

    @mutation(ADMINISTER, "Delete an exchange rate (admins); deals fall back to the rate before it.")
    async def delete_exchange_rate(
        self,
        info: Info,
        id: Annotated[strawberry.ID, arg("Global id of the rate.")],  # noqa: A002
    ) -> DeletePayload:
        return await mutate(
            info,
            deleted("ExchangeRate"),
            lambda s, pk: crud.delete_rate(s, rate_id=pk),
            Ref("id", "ExchangeRate", id),
        )
