"""Pure draws: one value or row from a random generator and the vocabulary, no database."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal

from app.demo.refs import (
    BASE_DATE,
    CENT,
    TWO_YEARS,
    YEN,
    CustomerRef,
    FieldRef,
    OrgRef,
    PipelineRef,
    Product,
    Row,
    StageRef,
    slug,
)
from app.demo.words import (
    CHANNEL_BY_SOURCE,
    CHECK_BOX,
    CITIES,
    COMPANY_PREFIXES,
    CUSTOMER_GROUPS,
    DATE,
    DECISION_CRITERIA,
    DESCRIPTIONS,
    LEAD_SOURCES,
    NO_MINOR_UNIT,
    PRIORITIES,
    PRODUCTS,
    SECTORS,
    SEGMENTS,
    SELECT_BOX,
    STREETS,
    TEXT_AREA,
    TEXT_FIELD,
    USD_PER,
    UTM_CAMPAIGNS,
    UTM_CONTENTS,
    UTM_MEDIUMS,
    UTM_SOURCES,
    City,
)

# ---------------------------------------------------------------------------
# Pure draws
# ---------------------------------------------------------------------------


def companies(rng: random.Random, count: int) -> Iterator[tuple[str, str, str, City]]:
    """(name, web domain, industry, city): distinct names while the vocabulary lasts."""
    width = len(SECTORS) * len(CITIES)
    space = len(COMPANY_PREFIXES) * width
    picks = rng.sample(range(space), min(count, space)) + [rng.randrange(space) for _ in range(count - space)]
    seen: set[str] = set()
    for index in picks:
        prefix, rest = divmod(index, width)
        sector, city = SECTORS[rest // len(CITIES)], CITIES[rest % len(CITIES)]
        name = f"{COMPANY_PREFIXES[prefix]} {sector[0]}"
        # a second company with the same name is told apart by its city
        label = f"{name} {city.name}" if name in seen else name
        seen.add(name)
        yield f"{label} {city.legal_suffix}", f"{slug(label, '-')}.example", sector[1], city


def customer_row(
    rng: random.Random, org_id: int, c: CustomerRef, domain: str, industry: str, city: City, created: datetime
) -> Row:
    segment, low, high = rng.choice(SEGMENTS)
    employees = rng.randint(low, high)
    return {
        "id": c.id, "organization_id": org_id, "name": c.name, "website": f"https://www.{domain}",
        "industry": industry, "market_segment": segment, "territory": city.territory,
        "customer_group": rng.choice(CUSTOMER_GROUPS), "number_of_employees": employees,
        "annual_revenue": Decimal(employees * rng.randint(60, 400) * 1000), "phone": digits(rng, city.phone),
        "street": f"{rng.randint(1, 240)} {rng.choice(STREETS)}", "city": city.name, "state": city.state,
        "postal_code": digits(rng, city.postal), "country": city.country,
        "created_at": created, "updated_at": between(rng, created, BASE_DATE),
    }  # fmt: skip


def catalog(org: OrgRef) -> list[Product]:
    """The products line items are drawn from; hardware is a partner's brand."""
    prefix = slug(org.brand)[:3].upper()
    return [
        Product(f"{prefix}-{code}", name, group, "Fabrikam" if group == "Hardware" else org.brand, uom,
                Decimal(price), description,
                f"https://cdn.{org.domain}/products/{code.lower()}.png" if group == "Hardware" else None)
        for code, name, group, uom, price, description in PRODUCTS
    ]  # fmt: skip


def pick_stage(rng: random.Random, pipeline: PipelineRef, created: datetime) -> StageRef:
    # the older the deal, the likelier it is won or lost by now
    age = (BASE_DATE - created) / TWO_YEARS
    if pipeline.won and pipeline.lost and rng.random() < 0.1 + 0.65 * age:
        return pipeline.won if rng.random() < 0.45 else pipeline.lost
    return rng.choices(pipeline.open, cum_weights=pipeline.open_weights)[0]


def timeline(rng: random.Random, created: datetime, *, closed: bool) -> Row:
    """Every timestamp of one opportunity, in a consistent order, none after BASE_DATE."""
    closed_at = between(rng, created, min(BASE_DATE, created + timedelta(days=240))) if closed else None
    moved = closed_at or (created if rng.random() < 0.15 else between(rng, created, BASE_DATE))
    active = between(rng, moved, closed_at or BASE_DATE) if rng.random() < 0.85 else None
    contacted = between(rng, created, active) if active and rng.random() < 0.7 else None
    updated = min(BASE_DATE, max(moved, active or created) + timedelta(minutes=rng.randint(0, 180)))
    expected = closed_at.date() if closed_at else (created + timedelta(days=rng.randint(14, 240))).date()
    return {"created_at": created, "updated_at": updated, "closed_at": closed_at, "stage_changed_at": moved,
            "last_activity_at": active, "last_contacted_at": contacted, "expected_close_date": expected}  # fmt: skip


def conversion_rate(rng: random.Random, currency: str, base: str) -> Decimal | None:
    """Base-currency units per unit of `currency` on the deal's day; None in the base currency."""
    if currency == base or base not in USD_PER:
        return None
    noise = Decimal(rng.randint(970, 1030)) / 1000
    return (USD_PER[currency] / USD_PER[base] * noise).quantize(Decimal("0.000001"))


def draw_amount(
    rng: random.Random, currency: str, periods: int | None, items: Decimal | None
) -> Decimal | None:
    if rng.random() < 0.05:
        return None  # not estimated yet
    if items and periods is None and rng.random() < 0.7:
        return items
    usd = 10 ** rng.uniform(3.3, 5.8) / (periods or 1)  # about $2,000 to $630,000 in all
    value = Decimal(int(usd * 100)) / 100 / USD_PER[currency]
    # most deals are round numbers; a few are exact quotes
    step = YEN if rng.random() < 0.2 else Decimal(1000 if currency in NO_MINOR_UNIT else 50)
    return round_money(max(step, (value / step).to_integral_value() * step), currency)


def round_money(value: Decimal, currency: str) -> Decimal:
    return value.quantize(YEN if currency in NO_MINOR_UNIT else CENT)


def draw_quantity(rng: random.Random, uom: str) -> Decimal:
    if uom == "Seat":
        return Decimal(rng.randrange(5, 505, 5))
    if uom == "Hour":
        return Decimal(rng.randrange(16, 480)) / 2
    return Decimal(rng.randint(1, {"Day": 10, "Year": 3, "Month": 36}.get(uom, 40)))


def origin(rng: random.Random, org: OrgRef, customer: CustomerRef, created: datetime) -> Row:
    """Lead, lead source, UTM parameters and channel, consistent with one another."""
    lead = next((lead for lead in customer.leads if lead[1] <= created), None) if rng.random() < 0.6 else None
    source = lead[2] if lead else (rng.choice(LEAD_SOURCES) if rng.random() < 0.85 else None)
    utm = UTM_SOURCES.get(source or "") if rng.random() < 0.7 else None
    channel = org.channels.get(CHANNEL_BY_SOURCE.get(source or "", ""))
    if channel is None and org.channels and rng.random() < 0.8:
        channel = rng.choice(list(org.channels.values()))
    return {
        "lead_id": lead[0] if lead else None, "lead_source": source,
        "utm_source": rng.choice(utm) if utm else None, "utm_medium": UTM_MEDIUMS.get(source or "") if utm else None,
        "utm_campaign": f"{rng.choice(UTM_CAMPAIGNS)}-{created.year}" if utm else None,
        "utm_content": rng.choice(UTM_CONTENTS) if utm and rng.random() < 0.4 else None, "channel_id": channel,
    }  # fmt: skip


def labels(
    rng: random.Random, org: OrgRef, pipeline: PipelineRef, customer: CustomerRef, created: datetime
) -> Row:
    """Title, description, type, priority and interaction count."""
    kind = rng.choice(pipeline.kinds).format(year=created.year + 1)
    description = None
    if rng.random() < 0.3:
        contact = customer.first_names[0] if customer.first_names else "The customer"
        description = rng.choice(DESCRIPTIONS).format(contact=contact, city=customer.city)
    type_id = org.types.get(pipeline.type_name) if rng.random() < 0.7 else None
    if type_id is None and org.types and rng.random() < 0.8:
        type_id = rng.choice(list(org.types.values()))
    return {"title": f"{customer.name} – {kind}"[:255], "description": description, "type_id": type_id,
            "priority": rng.choice(PRIORITIES), "interaction_count": int(rng.expovariate(1 / 8))}  # fmt: skip


def custom_value(rng: random.Random, definition: FieldRef, close: date) -> str | None:
    """A value in the definition's format; None for headings, which hold none."""
    kind = definition.type
    if kind == TEXT_FIELD:
        return f"PO-{close.year}-{rng.randint(10000, 99999)}"
    if kind == TEXT_AREA:
        return " ".join(rng.sample(DECISION_CRITERIA, rng.randint(1, 3)))
    if kind == SELECT_BOX:
        return rng.choice(definition.options) if definition.options else None
    if kind == CHECK_BOX:
        return rng.choice(("true", "false"))
    if kind == DATE:
        return (close + timedelta(days=rng.randint(7, 45))).isoformat()
    return None


def between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A whole-second instant in [start, end]."""
    return start + timedelta(seconds=rng.randint(0, max(0, int((end - start).total_seconds()))))


def digits(rng: random.Random, template: str) -> str:
    return "".join(str(rng.randrange(10)) if ch == "#" else ch for ch in template)
