"""The seeder: one organization's rows drawn into pending inserts, every choice from its generator."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

from app.demo.draw import (
    catalog,
    companies,
    conversion_rate,
    custom_value,
    customer_row,
    digits,
    draw_amount,
    draw_quantity,
    labels,
    origin,
    pick_stage,
    round_money,
    timeline,
)
from app.demo.refs import (
    BASE_DATE,
    CENT,
    TWO_YEARS,
    CustomerRef,
    FieldRef,
    Ids,
    OrgRef,
    Pending,
    PipelineRef,
    Row,
    StageRef,
    slug,
)
from app.demo.words import (
    BID_TYPES,
    CHANNELS,
    CITIES,
    COMPANY_PREFIXES,
    CURRENCIES,
    CUSTOM_FIELDS,
    DISCOUNTS,
    FIRST_NAMES,
    ITEM_COUNTS,
    JOB_TITLES,
    LAST_NAMES,
    LEAD_STATUSES,
    LEAD_TOPICS,
    LOST,
    LOST_REASONS,
    OPEN,
    OPEN_COLORS,
    OPPORTUNITY_TYPES,
    PERIODS,
    PIPELINES,
    REQUIRED_FIELDS,
    TAG_COUNTS,
    TAGS,
    TEXT_FIELD,
    TYPE_COLORS,
    USD_PER,
    USER_TITLES,
    WON,
    WON_REASONS,
    City,
)

# ---------------------------------------------------------------------------
# Drawing rows
# ---------------------------------------------------------------------------


class Seeder:
    """Draws one organization's rows into `pending`; every choice comes from `rng`."""

    org: OrgRef

    def __init__(self, rng: random.Random, pending: Pending, ids: Ids) -> None:
        self.rng, self.pending, self.ids = rng, pending, ids

    def add(self, table: str, row: Row) -> None:
        self.pending.rows[table].append(row)

    def new_organization(self, name: str, currency: str) -> OrgRef:
        org = OrgRef(self.ids.take("organization"), name, currency)
        self.add("organization", {"id": org.id, "name": name, "base_currency": currency,
                                  "created_at": BASE_DATE - 2 * TWO_YEARS})  # fmt: skip
        return org

    def add_lookups(self) -> None:
        """Users always; the other lookups only where the organization has none yet."""
        self.add_users()
        org = self.org
        if not org.pipelines:
            self.add_pipelines()
        for kind, names in ((WON, WON_REASONS), (LOST, LOST_REASONS)):
            if not org.reasons.get(kind):
                org.reasons[kind] = [self.add_named("close_reason", name, kind=kind) for name in names]
        if not org.channels:
            for name, kind, active in CHANNELS:
                channel_id = self.add_named("channel", name, type=kind, is_active=active)
                if active:  # new deals never come in through a retired channel
                    org.channels[name] = channel_id
        if not org.types:
            org.types = {name: self.add_named("opportunity_type", name) for name in OPPORTUNITY_TYPES}
        if not org.fields:
            self.add_custom_fields()
        org.catalog = catalog(org)
        # 55% of the deals in the first pipeline, 27% in the second, ...
        org.pipeline_weights = list(accumulate(60 // (i + 1) for i in range(len(org.pipelines))))

    def add_named(self, table: str, name: str, **columns: Any) -> int:
        row_id = self.ids.take(table)
        self.add(table, {"id": row_id, "organization_id": self.org.id, "name": name, **columns})
        return row_id

    def add_users(self) -> None:
        """About ten users; one whose email the organization already has is reused, not duplicated."""
        rng, org = self.rng, self.org
        for index in rng.sample(range(len(FIRST_NAMES) * len(LAST_NAMES)), rng.randint(8, 12)):
            first, last = FIRST_NAMES[index // len(LAST_NAMES)], LAST_NAMES[index % len(LAST_NAMES)]
            local = f"{slug(first)}.{slug(last)}"
            email = f"{local}@{org.domain}"
            if email in org.emails:
                org.users.append(org.emails[email])
                continue
            org.users.append(self.ids.take("user"))
            self.add("user", {
                "id": org.users[-1], "organization_id": org.id, "email": email, "display_name": f"{first} {last}",
                "title": USER_TITLES[(len(org.users) - 1) % len(USER_TITLES)],
                "avatar_url": f"https://avatars.{org.domain}/{local}.png",
                "profile_url": f"https://people.{org.domain}/{local}", "is_active": rng.random() > 0.05,
                "created_at": BASE_DATE - TWO_YEARS - timedelta(days=rng.randint(30, 365)),
            })  # fmt: skip
        # the first users (head of sales, managers, senior reps) own the most deals
        org.user_weights = list(accumulate(range(len(org.users) + 3, 3, -1)))

    def add_pipelines(self) -> None:
        org = self.org
        partner_currency = "EUR" if org.currency == "USD" else "USD"
        for name, type_name, kinds, stages in PIPELINES[: self.rng.choice((2, 3, 3))]:
            currency = partner_currency if name == "Partnerships" else org.currency
            pid = self.add_named("pipeline", name, currency=currency, created_at=BASE_DATE - TWO_YEARS)
            refs = [self.add_stage(pid, position, *spec) for position, spec in enumerate(stages, 1)]
            org.pipelines.append(PipelineRef(pid, currency, kinds, type_name, refs))

    def add_stage(
        self, pid: int, position: int, name: str, probability: int, kind: str, about: str
    ) -> StageRef:
        color = TYPE_COLORS.get(kind) or OPEN_COLORS[(position - 1) % len(OPEN_COLORS)]
        stage_id = self.add_named("stage", name, pipeline_id=pid, description=about, color=color,
                                  position=position, probability=probability, type=kind)  # fmt: skip
        return StageRef(stage_id, kind, probability)

    def add_custom_fields(self) -> None:
        required = REQUIRED_FIELDS.get(self.org.name, ())
        for position, (label, field_type, options, always) in enumerate(CUSTOM_FIELDS, 1):
            field_id = self.ids.take("custom_field_definition")
            self.add("custom_field_definition", {
                "id": field_id, "organization_id": self.org.id, "label": label, "field_type": field_type,
                "position": position, "options": options, "is_required": label in required,
                "mask": "PO-9999-99999" if field_type == TEXT_FIELD else None,
            })  # fmt: skip
            self.org.fields.append(FieldRef(field_id, field_type, options, always))

    # -- customers, their people and leads ------------------------------------

    def add_customers(self, count: int) -> None:
        """Customers with one to three people each, sometimes a company contact, sometimes a lead."""
        rng = self.rng
        for name, domain, industry, city in companies(rng, count):
            customer = CustomerRef(self.ids.take("customer"), name, city.name)
            created = (
                BASE_DATE - TWO_YEARS - timedelta(days=rng.randint(1, 365), seconds=rng.randrange(86400))
            )
            self.add("customer", customer_row(rng, self.org.id, customer, domain, industry, city, created))
            for _ in range(rng.choice((1, 2, 2, 2, 3, 3))):
                self.add_person(customer, domain, city, created)
            if rng.random() < 0.15:
                self.add_company_contact(customer.name, customer.id, domain, city, created)
            if rng.random() < 0.35:
                self.add_lead(customer)
            self.org.customers.append(customer)

    def add_person(
        self,
        customer: CustomerRef | None,
        domain: str,
        city: City,
        created: datetime,
        title: str | None = None,
    ) -> int:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        contact_id, mobile = self.ids.take("contact"), digits(rng, city.phone) if rng.random() < 0.6 else None
        self.add("contact", {
            "id": contact_id, "organization_id": self.org.id, "customer_id": customer.id if customer else None,
            "first_name": first, "last_name": last, "display_name": f"{first} {last}",
            "email": f"{slug(first)}.{slug(last)}@{domain}", "phone": digits(rng, city.phone), "mobile": mobile,
            "whatsapp": mobile if rng.random() < 0.3 else None, "job_title": title or rng.choice(JOB_TITLES),
            "is_company": False, "avatar_url": None, "created_at": created, "updated_at": created,
        })  # fmt: skip
        if customer is not None:
            customer.contacts.append(contact_id)
            customer.first_names.append(first)
        return contact_id

    def add_company_contact(
        self, name: str, customer_id: int | None, domain: str, city: City, created: datetime
    ) -> int:
        contact_id = self.ids.take("contact")
        self.add("contact", {
            "id": contact_id, "organization_id": self.org.id, "customer_id": customer_id, "first_name": None,
            "last_name": None, "display_name": name, "email": f"info@{domain}",
            "phone": digits(self.rng, city.phone), "mobile": None, "whatsapp": None, "job_title": None,
            "is_company": True, "avatar_url": f"https://logo.{domain}/square.png",
            "created_at": created, "updated_at": created,
        })  # fmt: skip
        return contact_id

    def add_lead(self, customer: CustomerRef) -> None:
        rng = self.rng
        topic, source = rng.choice(LEAD_TOPICS)
        created = BASE_DATE - TWO_YEARS - timedelta(days=30) + timedelta(seconds=rng.randrange(720 * 86400))
        lead_id = self.add_named("lead", f"{topic} – {customer.name}", source=source,
                                 status=rng.choice(LEAD_STATUSES), customer_id=customer.id,
                                 contact_id=customer.contacts[0], created_at=created)  # fmt: skip
        customer.leads.append((lead_id, created, source))

    def add_agents(self, count: int) -> None:
        """Referrers and agents: partner firms and independent brokers, belonging to no customer."""
        rng, created = self.rng, BASE_DATE - TWO_YEARS
        for _ in range(count):
            city = rng.choice(CITIES)
            firm = f"{rng.choice(COMPANY_PREFIXES)} {rng.choice(('Partners', 'Advisory', 'Brokers'))}"
            domain = f"{slug(firm, '-')}.example"
            if rng.random() < 0.5:
                self.org.agents.append(self.add_company_contact(firm, None, domain, city, created))
            else:
                self.org.agents.append(self.add_person(None, domain, city, created, "Independent broker"))

    # -- opportunities ----------------------------------------------------------

    def add_opportunity(self) -> None:
        """One opportunity row; its children are added as they are drawn."""
        rng, org = self.rng, self.org
        opp_id = self.ids.take("opportunity")
        pipeline = rng.choices(org.pipelines, cum_weights=org.pipeline_weights)[0]
        created = BASE_DATE - timedelta(seconds=rng.randrange(int(TWO_YEARS.total_seconds())))
        stage = pick_stage(rng, pipeline, created)
        customer = rng.choice(org.customers)
        org.positions[stage.id] += 1
        row: Row = {"id": opp_id, "organization_id": org.id, "stage_id": stage.id,
                    "position": org.positions[stage.id], "version": 1}  # fmt: skip
        row |= self.outcome(opp_id, stage)
        row |= timeline(rng, created, closed=row["status"] != OPEN)
        row |= self.deal_value(opp_id, pipeline, row["probability"])
        row |= self.people(opp_id, customer)
        row |= origin(rng, org, customer, created)
        row |= labels(rng, org, pipeline, customer, created)
        self.add_tags(opp_id)
        self.add_custom_values(opp_id, row["expected_close_date"])
        self.add("opportunity", row)

    def outcome(self, opp_id: int, stage: StageRef) -> Row:
        """Status, probability and close reason, all following the stage's type."""
        rng = self.rng
        if stage.type == OPEN:
            probability: int | None = stage.probability
            if rng.random() < 0.15:  # the rep's own estimate
                probability = max(0, min(100, stage.probability + rng.choice((-15, -10, -5, 5, 10, 15))))
            elif rng.random() < 0.05:
                probability = None
            return {"status": OPEN, "probability": probability, "close_reason_id": None}
        reasons = self.org.reasons.get(stage.type, [])
        chosen = rng.sample(reasons, min(len(reasons), 2 if rng.random() < 0.35 else 1))
        if stage.type == LOST:
            for position, reason_id in enumerate(chosen, 1):
                self.add("opportunity_lost_reason", {"opportunity_id": opp_id, "close_reason_id": reason_id,
                                                     "organization_id": self.org.id, "position": position})  # fmt: skip
        return {
            "status": stage.type,
            "probability": stage.probability,
            "close_reason_id": chosen[0] if chosen else None,
        }

    def deal_value(self, opp_id: int, pipeline: PipelineRef, probability: int | None) -> Row:
        """Amount, currency, bid and conversion rate; the line items are added on the way."""
        rng = self.rng
        currency = pipeline.currency if rng.random() < 0.85 else rng.choice(CURRENCIES)
        rate = conversion_rate(rng, currency, self.org.currency)
        bid = rng.choice(BID_TYPES)
        periods = rng.randint(*PERIODS[bid]) if bid in PERIODS else None
        amount = draw_amount(rng, currency, periods, self.add_items(opp_id, currency, rate))
        override = None
        if amount is not None and probability is not None and rng.random() < 0.05:
            override = round_money(amount * rng.randint(5, 95) / 100, currency)
        return {"amount": amount, "currency": currency, "bid_type": bid, "per_period_value": periods,
                "expected_revenue": override, "conversion_rate": rate}  # fmt: skip

    def add_items(self, opp_id: int, currency: str, rate: Decimal | None) -> Decimal | None:
        """Zero to five line items, positions 1..n; returns their total, or None without items."""
        rng, total = self.rng, Decimal(0)
        chosen = rng.sample(self.org.catalog, rng.choice(ITEM_COUNTS))
        for position, product in enumerate(chosen, 1):
            quantity = draw_quantity(rng, product.uom)
            discount = Decimal(100 - rng.choice(DISCOUNTS)) / 100
            price = round_money(product.usd_price / USD_PER[currency] * discount, currency)
            self.add("opportunity_item", {
                "id": self.ids.take("opportunity_item"), "organization_id": self.org.id,
                "opportunity_id": opp_id, "position": position, "item_code": product.code,
                "item_name": product.name, "item_group": product.group, "brand": product.brand,
                "uom": product.uom, "description": product.description, "image_url": product.image_url,
                "quantity": quantity, "rate": price, "base_rate": (price * rate).quantize(CENT) if rate else price,
            })  # fmt: skip
            total += quantity * price
        return round_money(total, currency) if chosen else None

    def people(self, opp_id: int, customer: CustomerRef) -> Row:
        """Customer, contacts and users; the participants and the access list are added on the way."""
        rng, org = self.rng, self.org
        owner = rng.choices(org.users, cum_weights=org.user_weights)[0]
        participants = rng.sample(customer.contacts, min(len(customer.contacts), rng.choice((1, 1, 2, 2, 3))))
        for position, contact_id in enumerate(participants, 1):
            self.add("opportunity_contact", {"opportunity_id": opp_id, "contact_id": contact_id,
                                             "organization_id": org.id, "position": position})  # fmt: skip
        private = rng.random() < 0.1
        if private:
            others = [u for u in org.users if u != owner]
            for user_id in rng.sample(others, min(len(others), rng.randint(1, 2))):
                self.add(
                    "opportunity_access",
                    {"opportunity_id": opp_id, "user_id": user_id, "organization_id": org.id},
                )
        return {
            "customer_id": customer.id, "contact_id": participants[0] if participants else None,
            "referrer_id": rng.choice(org.agents) if rng.random() < 0.1 else None,
            "agent_id": rng.choice(org.agents) if rng.random() < 0.07 else None, "owner_id": owner,
            "created_by_id": owner if rng.random() < 0.7 else rng.choice(org.users),
            "updated_by_id": owner if rng.random() < 0.6 else rng.choice(org.users), "is_private": private,
        }  # fmt: skip

    def add_tags(self, opp_id: int) -> None:
        for position, tag in enumerate(self.rng.sample(TAGS, self.rng.choice(TAG_COUNTS)), 1):
            self.add("opportunity_tag", {"opportunity_id": opp_id, "tag": tag, "organization_id": self.org.id,
                                         "position": position})  # fmt: skip

    def add_custom_values(self, opp_id: int, close: date) -> None:
        """A value for every field every deal fills (required or not) and for about half of the others."""
        for definition in self.org.fields:
            if not definition.always and self.rng.random() < 0.45:
                continue
            value = custom_value(self.rng, definition, close)
            if value is not None:
                self.add("custom_field_value", {"opportunity_id": opp_id, "definition_id": definition.id,
                                                "organization_id": self.org.id, "value": value})  # fmt: skip
