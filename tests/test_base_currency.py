"""Base-currency totals, exact against a reference computed here with Decimal: each deal's rate is its
conversionRate, else the organization's latest exchange rate valid today, else 1 in the base currency,
else none (left out); base values are rounded to 4 decimals half even; line items take baseRate from
their deal unless given. And the admins' exchange-rate table with its typed errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import update

from app import models as m
from app.enums import Role
from tests.support import (
    Api,
    Tenant,
    add_user,
    count_statements,
    gid,
    insert,
    make_tenant,
    opportunity,
    unscoped,
)

Q = Decimal("0.0001")
TODAY = datetime.now(UTC).date()

# (amount, currency, conversionRate, probability, expectedRevenue, owner slot)
DEALS: list[tuple[str | None, str | None, str | None, int | None, str | None, int]] = [
    ("100.0001", "USD", None, 50, None, 0),  # today's USD rate
    ("55.5555", "USD", "1.123457", 33, None, 0),  # its own rate wins
    ("10", "EUR", None, 10, None, 0),  # the base currency: 1
    ("999.9999", "GBP", None, None, "123.4567", 1),  # GBP's only rate; explicit expected revenue
    ("300", "JPY", None, 90, None, 1),  # no rate: left out
    (None, "USD", None, 20, None, 1),  # a rate but no amount
    ("0.0001", "USD", "0.5", 100, None, 1),  # 0.00005: half even rounds to 0.0000
    ("0.0003", "USD", "0.5", 100, None, 1),  # 0.00015: half even rounds to 0.0002
    ("12345678901234.5678", "CHF", "7.654321", 15, None, 1),  # near the top of the range
    ("5", "JPY", None, 50, None, 2),  # a group with nothing convertible
]
RATES = {"USD": Decimal("0.92"), "GBP": Decimal("1.17")}  # what applies today


async def _world(engine, tenant: Tenant) -> tuple[list[int], list[int]]:
    org = tenant.organization_id
    async with unscoped(engine) as s:
        await s.execute(update(m.Organization).where(m.Organization.id == org).values(base_currency="EUR"))
        s.add_all(
            [
                m.ExchangeRate(
                    organization_id=org, currency="USD", rate=Decimal("0.9"), valid_from=date(2020, 1, 1)
                ),
                m.ExchangeRate(organization_id=org, currency="USD", rate=Decimal("0.92"), valid_from=TODAY),
                m.ExchangeRate(
                    organization_id=org,
                    currency="USD",
                    rate=Decimal("5"),
                    valid_from=TODAY + timedelta(days=10),
                ),
                m.ExchangeRate(
                    organization_id=org, currency="GBP", rate=Decimal("1.17"), valid_from=date(2020, 1, 1)
                ),
            ]
        )
    other = await make_tenant(engine, "Globex", Role.ADMIN)
    await insert(
        engine,
        m.ExchangeRate(
            organization_id=other.organization_id,
            currency="JPY",
            rate=Decimal("100"),
            valid_from=date(2020, 1, 1),
        ),
    )
    owners = [tenant.user_id]
    for i in (1, 2):
        uid, _ = await add_user(engine, "Acme", f"seller{i}@acme.test", Role.EDITOR)
        owners.append(uid)
    rows = [
        opportunity(
            org,
            title=f"d{i}",
            amount=None if a is None else Decimal(a),
            currency=c,
            conversion_rate=None if r is None else Decimal(r),
            probability=p,
            expected_revenue=None if e is None else Decimal(e),
            owner_id=owners[o],
        )
        for i, (a, c, r, p, e, o) in enumerate(DEALS)
    ]
    return await insert(engine, *rows), owners


def _rate(currency: str | None, conversion: str | None) -> Decimal | None:
    if conversion is not None:
        return Decimal(conversion)
    if currency == "EUR":
        return Decimal(1)
    return RATES.get(currency or "")


def _revenue(amount: str | None, probability: int | None, explicit: str | None) -> Decimal | None:
    if explicit is not None:
        return Decimal(explicit)
    if amount is None or probability is None:
        return None
    return (Decimal(amount) * probability / 100).quantize(Q, rounding=ROUND_HALF_UP)


def _base(value: Decimal | None, rate: Decimal | None) -> Decimal | None:
    return None if value is None or rate is None else (value * rate).quantize(Q, rounding=ROUND_HALF_EVEN)


def _fmt(v: Decimal | None) -> str | None:
    return None if v is None else str(v.quantize(Q))


AGG = """{ opportunityAggregate { count baseAmount { currency count sum avg min max } }
  opportunityGroups(groupBy: [OWNER]) { owner { id } count baseSums { currency count amount expectedRevenue } } }"""


async def test_base_totals_are_exact_against_a_decimal_reference(api: Api, tenant: Tenant, engine) -> None:
    _, owners = await _world(engine, tenant)
    values = [_base(None if a is None else Decimal(a), _rate(c, r)) for a, c, r, _, _, _ in DEALS]
    counted = [v for v in values if v is not None]
    assert values[6] == Decimal("0.0000") and values[7] == Decimal("0.0002")  # the half-even cases
    total = sum(counted, Decimal(0))
    data = await api(AGG)
    assert data["opportunityAggregate"] == {
        "count": len(DEALS),
        "baseAmount": {
            "currency": "EUR",
            "count": len(counted),
            "sum": _fmt(total),
            "avg": _fmt((total / len(counted)).quantize(Q, rounding=ROUND_HALF_EVEN)),
            "min": _fmt(min(counted)),
            "max": _fmt(max(counted)),
        },
    }
    expected_groups: list[dict[str, Any]] = []
    for slot in (0, 1, 2):
        deals = [d for d in DEALS if d[5] == slot]
        with_rate = [d for d in deals if _rate(d[1], d[2]) is not None]
        amounts = [_base(None if d[0] is None else Decimal(d[0]), _rate(d[1], d[2])) for d in with_rate]
        revenues = [_base(_revenue(d[0], d[3], d[4]), _rate(d[1], d[2])) for d in with_rate]
        amounts_known = [v for v in amounts if v is not None]
        revenues_known = [v for v in revenues if v is not None]
        expected_groups.append(
            {
                "owner": {"id": gid("User", owners[slot])},
                "count": len(deals),
                "baseSums": {
                    "currency": "EUR",
                    "count": len(with_rate),
                    "amount": _fmt(sum(amounts_known, Decimal(0))) if amounts_known else None,
                    "expectedRevenue": _fmt(sum(revenues_known, Decimal(0))) if revenues_known else None,
                },
            }
        )
    got = {g["owner"]["id"]: g for g in data["opportunityGroups"]}
    assert [got[g["owner"]["id"]] for g in expected_groups] == expected_groups
    assert expected_groups[2]["baseSums"] == {
        "currency": "EUR",
        "count": 0,
        "amount": None,
        "expectedRevenue": None,
    }


ITEMS = """query($id: ID!) { opportunity(id: $id) { items { rate quantity baseRate baseAmount } } }"""


async def test_line_items_take_their_base_rate_from_the_deal_unless_given(
    api: Api, tenant: Tenant, engine
) -> None:
    ids, _ = await _world(engine, tenant)
    org = tenant.organization_id
    await insert(
        engine,
        m.OpportunityItem(organization_id=org, opportunity_id=ids[0], item_name="a", position=1,
                          quantity=Decimal("3"), rate=Decimal("12.3457")),
        m.OpportunityItem(organization_id=org, opportunity_id=ids[0], item_name="b", position=2,
                          quantity=Decimal("2.5"), rate=Decimal("10"), base_rate=Decimal("7.7777")),
        m.OpportunityItem(organization_id=org, opportunity_id=ids[1], item_name="c", position=1,
                          quantity=Decimal("1.5"), rate=Decimal("0.3333")),
        m.OpportunityItem(organization_id=org, opportunity_id=ids[4], item_name="d", position=1,
                          quantity=Decimal("1"), rate=Decimal("9")),
    )  # fmt: skip

    def line(rate: str, qty: str, deal_rate: Decimal | None, given: str | None = None) -> dict[str, Any]:
        base_rate = Decimal(given) if given else _base(Decimal(rate), deal_rate)
        return {
            "rate": _fmt(Decimal(rate)),
            "quantity": _fmt(Decimal(qty)),
            "baseRate": _fmt(base_rate),
            "baseAmount": _fmt(_base(Decimal(qty), base_rate)),
        }

    first = await api(ITEMS, {"id": gid("Opportunity", ids[0])})
    assert first["opportunity"]["items"] == [
        line("12.3457", "3", RATES["USD"]),
        line("10", "2.5", RATES["USD"], given="7.7777"),
    ]
    second = await api(ITEMS, {"id": gid("Opportunity", ids[1])})
    assert second["opportunity"]["items"] == [line("0.3333", "1.5", Decimal("1.123457"))]
    no_rate = await api(ITEMS, {"id": gid("Opportunity", ids[4])})
    assert no_rate["opportunity"]["items"] == [
        {"rate": "9.0000", "quantity": "1.0000", "baseRate": None, "baseAmount": None}
    ]


SET = """mutation($i: SetExchangeRateInput!) { setExchangeRate(input: $i) {
  exchangeRate { id currency rate validFrom } errors { field code } } }"""
DEL = "mutation($id: ID!) { deleteExchangeRate(id: $id) { deletedId errors { field code } } }"
LIST = "{ exchangeRates { nodes { currency rate validFrom } } }"


async def test_admins_manage_exchange_rates_with_typed_errors(api: Api, tenant: Tenant, engine) -> None:
    async with unscoped(engine) as s:
        await s.execute(
            update(m.Organization)
            .where(m.Organization.id == tenant.organization_id)
            .values(base_currency="EUR")
        )
    [deal] = await insert(engine, opportunity(tenant.organization_id, amount=Decimal("10"), currency="USD"))
    base = "{ opportunityAggregate { baseAmount { count sum } } }"
    assert (await api(base))["opportunityAggregate"]["baseAmount"] == {"count": 0, "sum": None}
    old = (await api(SET, {"i": {"currency": "usd", "rate": "0.9", "validFrom": "2020-01-01"}}))[
        "setExchangeRate"
    ]
    assert old["errors"] == [] and old["exchangeRate"]["currency"] == "USD"
    new = (await api(SET, {"i": {"currency": "USD", "rate": "0.95", "validFrom": str(TODAY)}}))[
        "setExchangeRate"
    ]
    assert (await api(base))["opportunityAggregate"]["baseAmount"] == {"count": 1, "sum": "9.5000"}
    # the same currency and day again: replaced, not added
    again = (await api(SET, {"i": {"currency": "USD", "rate": "0.97", "validFrom": str(TODAY)}}))[
        "setExchangeRate"
    ]
    assert again["exchangeRate"]["id"] == new["exchangeRate"]["id"]
    assert (await api(LIST))["exchangeRates"]["nodes"] == [
        {"currency": "USD", "rate": "0.970000", "validFrom": str(TODAY)},
        {"currency": "USD", "rate": "0.900000", "validFrom": "2020-01-01"},
    ]
    assert (await api(DEL, {"id": new["exchangeRate"]["id"]}))["deleteExchangeRate"]["errors"] == []
    # back to the older rate
    assert (await api(base))["opportunityAggregate"]["baseAmount"] == {"count": 1, "sum": "9.0000"}
    for given, path, code in (
        ({"currency": "EUR", "rate": "1", "validFrom": "2020-01-01"}, "currency", "INVALID"),
        ({"currency": "XYZ", "rate": "1", "validFrom": "2020-01-01"}, "currency", "INVALID"),
        ({"currency": "USD", "rate": "0", "validFrom": "2020-01-01"}, "rate", "OUT_OF_RANGE"),
        ({"currency": "USD", "rate": "1.0000001", "validFrom": "2020-01-01"}, "rate", "INVALID"),
        ({"currency": "USD", "rate": "1", "validFrom": "1800-01-01"}, "validFrom", "OUT_OF_RANGE"),
    ):
        out = (await api(SET, {"i": given}))["setExchangeRate"]
        assert out == {"exchangeRate": None, "errors": [{"field": ["input", path], "code": code}]}, given
    missing = (await api(DEL, {"id": new["exchangeRate"]["id"]}))["deleteExchangeRate"]
    assert missing == {"deletedId": None, "errors": [{"field": ["id"], "code": "NOT_FOUND"}]}
    # an editor may not set rates; another organization neither sees nor deletes ours
    _, editor = await add_user(engine, "Acme", "ed@acme.test", Role.EDITOR)
    errors = await api.errors(
        SET, {"i": {"currency": "USD", "rate": "1", "validFrom": "2021-01-01"}}, key=editor
    )
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
    globex = await make_tenant(engine, "Globex", Role.ADMIN)
    assert (await api(LIST, key=globex.key))["exchangeRates"]["nodes"] == []
    theirs = (await api(DEL, {"id": old["exchangeRate"]["id"]}, key=globex.key))["deleteExchangeRate"]
    assert [e["code"] for e in theirs["errors"]] == ["NOT_FOUND"]
    assert deal


DEAL_BASE = (
    """{ opportunities(first: 50, orderBy: [{field: ID, direction: ASC}]) { nodes { title baseAmount } } }"""
)
DEAL_PLAIN = (
    """{ opportunities(first: 50, orderBy: [{field: ID, direction: ASC}]) { nodes { title amount } } }"""
)


async def test_a_deals_base_amount_follows_the_aggregates_rule(api: Api, tenant: Tenant, engine) -> None:
    await _world(engine, tenant)
    await api(DEAL_PLAIN)  # warm the key cache
    with count_statements(engine) as plain:
        await api(DEAL_PLAIN)
    with count_statements(engine) as seen:
        nodes = (await api(DEAL_BASE))["opportunities"]["nodes"]
    expected = [
        {"title": f"d{i}", "baseAmount": _fmt(_base(None if a is None else Decimal(a), _rate(c, r)))}
        for i, (a, c, r, _p, _e, _o) in enumerate(DEALS)
    ]
    assert nodes == expected
    # the organization's rates and base currency, read once for the whole page
    assert len(seen) == len(plain) + 2, seen
    # and the deals' base amounts add up to the aggregate's sum
    total = (await api("{ opportunityAggregate { baseAmount { sum } } }"))["opportunityAggregate"][
        "baseAmount"
    ]
    assert total["sum"] == _fmt(sum((Decimal(n["baseAmount"]) for n in nodes if n["baseAmount"]), Decimal(0)))
