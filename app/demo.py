"""Deterministic, realistic demo data, inserted fast with Core executemany.

`seed_demo` fills one organization, or a few demo ones, with users, pipelines,
customers, contacts, leads and opportunities, with their line items, custom
field values, participants, tags, lost reasons and access lists.

The same seed gives the same rows on an empty database: every choice comes from
a `random.Random` seeded per organization, every timestamp is relative to
BASE_DATE (never the clock), and primary keys are handed out here, above each
table's current maximum, instead of by the database. That also lets children
point at their parents without a round trip. Rows are plain dicts inserted with
`insert(table)` executemany, one transaction per chunk of opportunities. Seeding
assumes nobody else inserts into the same database while it runs.
"""

from __future__ import annotations

import random
import re
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any, NamedTuple

from sqlalchemy import Table, exists, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel
from tqdm import tqdm

import app.models  # noqa: F401  (registers every table on SQLModel.metadata)
from app.enums import BidType, CustomFieldType, LeadSource, Priority, StageType

Row = dict[str, Any]

BASE_DATE = datetime(2026, 1, 1, tzinfo=UTC)
TWO_YEARS = timedelta(days=730)
CHUNK = 5000  # opportunities per transaction, and rows per executemany
TABLES: dict[str, Table] = dict(SQLModel.metadata.tables)
CENT, YEN = Decimal("0.01"), Decimal(1)

# name, base currency; the first gets most of the opportunities
DEMO_ORGANIZATIONS = (("Acme Demo", "USD"), ("Globex Demo", "EUR"), ("Initech Demo", "GBP"))
DEMO_SHARES = (0.25, 0.15)  # of the 2nd and 3rd; the 1st gets the rest

# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Sophia", "Mateo", "Mia", "Elijah", "Amelia",
    "James", "Harper", "Benjamin", "Chloé", "Hiroshi", "Yuki", "Priya", "Arjun", "Fatima", "Omar",
    "Ingrid", "Björn", "Sofía", "Diego", "Aisha", "Kwame", "Mei", "Wei", "Hannah", "Jonas", "Léa",
    "Marco", "Giulia", "Anna", "Tomás", "Nora", "Ethan", "Grace", "Samuel",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Garcia", "Müller", "Rossi", "Dubois", "Tanaka", "Sato", "Patel", "Sharma",
    "Kim", "Nguyen", "Silva", "Santos", "Kowalski", "Novak", "Andersson", "Johansson", "O'Brien",
    "Murphy", "Brown", "Wilson", "Taylor", "Martin", "Lefebvre", "Schmidt", "Fischer", "Hernández",
    "López", "Okafor", "Mensah", "Chen", "Wang", "Cohen", "Jensen", "Bakker", "de Vries", "Walker",
    "Clarke", "Ito",
)  # fmt: skip
USER_TITLES = (
    "Head of Sales", "Sales Manager", "Account Executive", "Senior Account Executive",
    "Sales Development Representative", "Account Executive", "Customer Success Manager",
    "Solutions Engineer", "Partner Manager", "Account Executive", "Account Manager", "Sales Operations Analyst",
)  # fmt: skip
JOB_TITLES = (
    "CEO", "CFO", "CTO", "COO", "Head of Procurement", "IT Director", "Operations Manager",
    "Purchasing Manager", "VP Sales", "Finance Director", "Project Manager", "Head of Marketing",
    "Office Manager", "Data Protection Officer", "Head of Operations",
)  # fmt: skip
COMPANY_PREFIXES = (
    "Northwind", "Bluepeak", "Redwood", "Silverline", "Ironbridge", "Brightwater", "Summit", "Cedar",
    "Harbor", "Granite", "Lumen", "Vertex", "Pioneer", "Atlas", "Beacon", "Evergreen", "Falcon",
    "Horizon", "Keystone", "Maple", "Meridian", "Nova", "Orchid", "Pinnacle", "Quantum", "Riverside",
    "Sapphire", "Sterling", "Terra", "Union", "Vanguard", "Willow", "Zenith", "Oakridge", "Crescent",
    "Bluebird", "Copperfield", "Driftwood", "Everest", "Foxglove",
)  # fmt: skip
SECTORS = (  # the word in the company name, and its industry
    ("Logistics", "Transportation"), ("Foods", "Food & Beverage"), ("Health", "Healthcare"),
    ("Energy", "Energy"), ("Systems", "Information Technology"), ("Analytics", "Information Technology"),
    ("Manufacturing", "Manufacturing"), ("Retail", "Retail"), ("Pharma", "Pharmaceuticals"),
    ("Construction", "Construction"), ("Media", "Media"), ("Motors", "Automotive"),
    ("Textiles", "Apparel"), ("Labs", "Biotechnology"), ("Networks", "Telecommunications"),
    ("Robotics", "Industrial Automation"), ("Insurance", "Insurance"), ("Capital", "Financial Services"),
    ("Hotels", "Hospitality"), ("Software", "Software"), ("Packaging", "Packaging"),
    ("Chemicals", "Chemicals"), ("Agritech", "Agriculture"), ("Education", "Education"),
    ("Consulting", "Professional Services"),
)  # fmt: skip


class City(NamedTuple):
    name: str
    state: str | None
    country: str
    territory: str
    postal: str  # '#' stands for a random digit
    phone: str
    legal_suffix: str


CITIES = (
    City("San Francisco", "CA", "United States", "North America", "941##", "+1 415 555 01##", "Inc."),
    City("New York", "NY", "United States", "North America", "100##", "+1 212 555 01##", "LLC"),
    City("Austin", "TX", "United States", "North America", "787##", "+1 512 555 01##", "Inc."),
    City("Chicago", "IL", "United States", "North America", "606##", "+1 312 555 01##", "Corp."),
    City("Toronto", "ON", "Canada", "North America", "M5V #A#", "+1 416 555 01##", "Ltd."),
    City("London", None, "United Kingdom", "EMEA", "EC1A #BB", "+44 20 7946 0###", "Ltd"),
    City("Manchester", None, "United Kingdom", "EMEA", "M1 #AE", "+44 161 496 0###", "Ltd"),
    City("Berlin", "Berlin", "Germany", "EMEA", "10###", "+49 30 #######", "GmbH"),
    City("Munich", "Bavaria", "Germany", "EMEA", "80###", "+49 89 #######", "GmbH"),
    City("Paris", "Île-de-France", "France", "EMEA", "750##", "+33 1 ## ## ## ##", "SAS"),
    City("Amsterdam", "North Holland", "Netherlands", "EMEA", "10## AB", "+31 20 ### ####", "B.V."),
    City("Madrid", "Madrid", "Spain", "EMEA", "280##", "+34 91 ### ## ##", "S.L."),
    City("Zurich", "Zurich", "Switzerland", "EMEA", "80##", "+41 44 ### ## ##", "AG"),
    City("Stockholm", None, "Sweden", "EMEA", "11# ##", "+46 8 ### ### ##", "AB"),
    City("Tokyo", "Tokyo", "Japan", "APAC", "100-00##", "+81 3 ####-####", "K.K."),
    City("Singapore", None, "Singapore", "APAC", "01####", "+65 6### ####", "Pte. Ltd."),
    City("Sydney", "NSW", "Australia", "APAC", "20##", "+61 2 #### ####", "Pty Ltd"),
    City("São Paulo", "SP", "Brazil", "LATAM", "01310-###", "+55 11 ####-####", "Ltda."),
    City("Mexico City", "CDMX", "Mexico", "LATAM", "066##", "+52 55 #### ####", "S.A. de C.V."),
)
STREETS = ("Market Street", "Main Street", "Oak Avenue", "Park Road", "Station Road", "Harbour View",
           "King Street", "Mill Lane", "Church Street", "High Street", "Bridge Road", "Lake Drive")  # fmt: skip
SEGMENTS = (("SMB", 10, 199), ("Mid-market", 200, 1999), ("Enterprise", 2000, 60000))
CUSTOMER_GROUPS = ("Commercial", "Commercial", "Commercial", "Government", "Non Profit", "Partner")

# pipeline name, default opportunity type, deal kinds for titles, stages (name, probability, type, description)
OPEN, WON, LOST = StageType.OPEN.value, StageType.WON.value, StageType.LOST.value  # close reason kinds too
PIPELINES = (
    ("New business", "New business",
     ("Platform rollout", "Pilot project", "Enterprise licence", "Analytics add-on", "Onboarding package",
      "Hardware refresh", "Cloud migration", "Team expansion"),
     (("Prospecting", 10, OPEN, "First contact made; need not yet confirmed"),
      ("Qualification", 20, OPEN, "Budget, authority, need and timing checked"),
      ("Needs analysis", 40, OPEN, "Requirements and stakeholders mapped"),
      ("Proposal", 60, OPEN, "Proposal or quote sent"),
      ("Negotiation", 80, OPEN, "Terms and pricing under negotiation"),
      ("Closed won", 100, WON, "Contract signed"),
      ("Closed lost", 0, LOST, "Lost or abandoned"))),
    ("Renewals", "Renewal",
     ("Annual renewal {year}", "Support renewal {year}", "Licence true-up", "Multi-year renewal"),
     (("Upcoming", 40, OPEN, "Renewal due within 120 days"),
      ("Contacted", 55, OPEN, "Customer contacted about the renewal"),
      ("Quote sent", 75, OPEN, "Renewal quote sent"),
      ("Verbal commit", 90, OPEN, "Customer agreed, paperwork pending"),
      ("Renewed", 100, WON, "Renewal signed"),
      ("Churned", 0, LOST, "Customer did not renew"))),
    ("Partnerships", "Partner deal",
     ("Reseller agreement", "Referral partnership", "Co-marketing programme", "OEM licence"),
     (("Identified", 10, OPEN, "Potential partner identified"),
      ("Intro call", 30, OPEN, "First call held"),
      ("Term sheet", 60, OPEN, "Partnership terms drafted"),
      ("Signed", 100, WON, "Partner agreement signed"),
      ("Declined", 0, LOST, "Partnership not pursued"))),
)  # fmt: skip
OPEN_COLORS = ("#90caf9", "#64b5f6", "#42a5f5", "#1e88e5", "#1565c0", "#0d47a1")
TYPE_COLORS = {WON: "#2e7d32", LOST: "#c62828"}
OPPORTUNITY_TYPES = ("New business", "Upsell", "Cross-sell", "Renewal", "Partner deal", "Services")
WON_REASONS = ("Price", "Relationship", "Product fit", "Features", "Implementation timeline")
LOST_REASONS = ("Lost to competitor", "No budget", "No decision", "Price too high", "Missing features",
                "Went silent")  # fmt: skip
CHANNELS = (("Website", "web", True), ("Email", "email", True), ("Phone", "phone", True),
            ("Partner portal", "partner", True), ("Trade shows", "event", True),
            ("Live chat", "chat", True), ("Fax", "fax", False))  # fmt: skip
CHANNEL_BY_SOURCE = {
    "WEBSITE": "Website", "ADVERTISING": "Website", "SOCIAL": "Website", "EMAIL": "Email",
    "PHONE": "Phone", "PARTNER": "Partner portal", "REFERRAL": "Partner portal", "EVENT": "Trade shows",
}  # fmt: skip
SOURCE_WEIGHTS = {"WEBSITE": 4, "REFERRAL": 3}  # the other sources: 2
LEAD_SOURCES = tuple(s.value for s in LeadSource for _ in range(SOURCE_WEIGHTS.get(s.value, 2)))
LEAD_TOPICS = (("Website demo request", "WEBSITE"), ("Pricing enquiry", "EMAIL"), ("Inbound call", "PHONE"),
               ("Trade show contact", "EVENT"), ("Partner referral", "PARTNER"),
               ("Customer referral", "REFERRAL"), ("Ad campaign response", "ADVERTISING"),
               ("Webinar sign-up", "SOCIAL"))  # fmt: skip
LEAD_STATUSES = ("Converted", "Converted", "Qualified", "Contacted", "New", "Disqualified")
UTM_SOURCES = {"WEBSITE": ("google", "bing", "direct"), "ADVERTISING": ("google", "linkedin", "bing"),
               "SOCIAL": ("linkedin", "twitter", "facebook"), "EMAIL": ("newsletter", "hubspot")}  # fmt: skip
UTM_MEDIUMS = {"WEBSITE": "organic", "ADVERTISING": "cpc", "SOCIAL": "social", "EMAIL": "email"}
UTM_CAMPAIGNS = ("spring-launch", "summer-webinar", "q4-promo", "brand-awareness", "retargeting")
UTM_CONTENTS = ("banner-a", "banner-b", "cta-footer", "video-30s", "case-study")
PRIORITIES = (None, *(p.value for p in Priority), "LOW", "MEDIUM", "MEDIUM")
TAGS = ("hot", "strategic", "upsell", "quarter-end", "competitive", "referral", "budget-approved",
        "needs-follow-up", "enterprise", "pilot", "multi-year", "executive-sponsor")  # fmt: skip
DESCRIPTIONS = (
    "{contact} asked for a proposal after the product demo.",
    "Follow-up from the {city} event; {contact} is evaluating two other vendors.",
    "Expansion into a second business unit, sponsored by {contact}.",
    "Replaces a legacy system; the contract with the incumbent ends next quarter.",
    "Budget approved for this fiscal year. Procurement needs three quotes.",
    "Security review required before signature; {contact} coordinates it.",
)
DECISION_CRITERIA = ("Total cost of ownership over three years.", "Integration with the existing ERP.",
                     "Data residency in the EU.", "Time to go live under 90 days.",
                     "Single sign-on and audit logs.", "References from the same industry.")  # fmt: skip
TEXT_FIELD, TEXT_AREA, SELECT_BOX, CHECK_BOX, HEADING, DATE = (t.value for t in CustomFieldType)
CONTRACT_TERMS = ["Monthly", "12 months", "24 months", "36 months"]
CUSTOM_FIELDS = (  # label, type, options, required
    ("Qualification", HEADING, None, False),
    ("Contract term", SELECT_BOX, CONTRACT_TERMS, True),
    ("Legal review required", CHECK_BOX, None, False),
    ("Kick-off date", DATE, None, False),
    ("Purchase order number", TEXT_FIELD, None, False),
    ("Decision criteria", TEXT_AREA, None, False),
)
# code, name, group, unit of measure, list price in USD, description
PRODUCTS = (
    ("PLAT-STD", "Platform licence – Standard", "Licences", "Seat", "480", None),
    ("PLAT-PRO", "Platform licence – Professional", "Licences", "Seat", "960", None),
    ("PLAT-ENT", "Platform licence – Enterprise", "Licences", "Seat", "1800", "Includes SSO and audit logs"),
    ("ADD-ANL", "Analytics add-on", "Add-ons", "Seat", "240", None),
    ("ADD-API", "API access package", "Add-ons", "Unit", "2500", "1M calls a month"),
    ("SUP-STD", "Standard support", "Support", "Year", "3000", "Business hours, next-day response"),
    ("SUP-PRM", "Premium support 24/7", "Support", "Year", "9000", "24/7, one-hour response"),
    ("SRV-ONB", "Onboarding workshop", "Services", "Day", "1400", None),
    ("SRV-CON", "Consulting", "Services", "Hour", "185", None),
    ("SRV-TRN", "Training session", "Services", "Day", "1200", "Up to 12 participants"),
    ("SRV-MIG", "Data migration", "Services", "Unit", "6500", None),
    ("HW-GW", "Edge gateway", "Hardware", "Unit", "890", None),
    ("HW-SNS", "Sensor kit", "Hardware", "Unit", "149.90", "Temperature, humidity and motion"),
    ("HW-KSK", "Self-service kiosk", "Hardware", "Unit", "4200", None),
    ("SUB-CLD", "Cloud hosting", "Subscriptions", "Month", "650", None),
)
# US dollars per unit of each currency; conversion rates are derived from these
USD_PER = {"USD": Decimal("1"), "EUR": Decimal("1.08"), "GBP": Decimal("1.27"), "JPY": Decimal("0.0067"),
           "CAD": Decimal("0.73"), "AUD": Decimal("0.66"), "CHF": Decimal("1.13")}  # fmt: skip
CURRENCIES = tuple(USD_PER)
NO_MINOR_UNIT = {"JPY"}
# bid type -> the range of its number of periods
PERIODS = {"PER_HOUR": (8, 400), "PER_DAY": (2, 60), "PER_WEEK": (2, 26),
           "PER_MONTH": (3, 36), "PER_YEAR": (1, 5)}  # fmt: skip
BID_TYPES = (BidType.FIXED.value,) * 16 + ("PER_MONTH",) * 2 + ("PER_YEAR", "PER_HOUR", "PER_DAY", "PER_WEEK")
# draws from these tuples are weighted by repetition
ITEM_COUNTS = (0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 5)
TAG_COUNTS = (0, 0, 0, 0, 1, 1, 1, 2, 2, 3)
DISCOUNTS = (0, 0, 0, 5, 10, 15, 20)  # percent


# ---------------------------------------------------------------------------
# What one organization's opportunities draw from
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedReport:
    """What `seed_demo` did: the organizations it filled, rows inserted per table, wall time."""

    organizations: list[tuple[int, str]]
    counts: dict[str, int]
    seconds: float

    def __str__(self) -> str:
        orgs = ", ".join(f"{name} (id {id_})" for id_, name in self.organizations)
        rows = ", ".join(f"{table} {n}" for table, n in self.counts.items())
        return f"seeded {orgs} in {self.seconds:.1f}s: {rows}"


class StageRef(NamedTuple):
    id: int
    type: str
    probability: int


@dataclass
class PipelineRef:
    id: int
    currency: str
    kinds: Sequence[str]  # deal kinds, for titles
    type_name: str  # the opportunity type most of its deals have
    stages: list[StageRef]
    open: list[StageRef] = field(init=False)
    open_weights: list[int] = field(init=False)
    won: StageRef | None = field(init=False)
    lost: StageRef | None = field(init=False)

    def __post_init__(self) -> None:
        # A pipeline without open stages still gets cards: they then land in its closed ones.
        self.open = [s for s in self.stages if s.type == OPEN] or self.stages
        # early stages hold more cards than late ones
        self.open_weights = list(accumulate(range(len(self.open), 0, -1)))
        self.won = next((s for s in self.stages if s.type == WON), None)
        self.lost = next((s for s in self.stages if s.type == LOST), None)


class FieldRef(NamedTuple):
    id: int
    type: str
    options: list[str] | None
    required: bool


class Product(NamedTuple):
    code: str
    name: str
    group: str
    brand: str
    uom: str
    usd_price: Decimal
    description: str | None
    image_url: str | None


@dataclass
class CustomerRef:
    id: int
    name: str
    city: str
    contacts: list[int] = field(default_factory=list)  # people only, not company contacts
    first_names: list[str] = field(default_factory=list)
    leads: list[tuple[int, datetime, str]] = field(default_factory=list)  # id, created_at, source


@dataclass
class OrgRef:
    id: int
    name: str
    currency: str
    emails: dict[str, int] = field(default_factory=dict)  # existing users, reused rather than clashed with
    users: list[int] = field(default_factory=list)
    user_weights: list[int] = field(default_factory=list)
    pipelines: list[PipelineRef] = field(default_factory=list)
    pipeline_weights: list[int] = field(default_factory=list)
    reasons: dict[str, list[int]] = field(default_factory=lambda: {WON: [], LOST: []})
    channels: dict[str, int] = field(default_factory=dict)  # active ones only
    types: dict[str, int] = field(default_factory=dict)
    fields: list[FieldRef] = field(default_factory=list)
    customers: list[CustomerRef] = field(default_factory=list)
    agents: list[int] = field(default_factory=list)
    catalog: list[Product] = field(default_factory=list)
    positions: Counter[int] = field(default_factory=Counter)  # last card position per stage

    @property
    def domain(self) -> str:
        return f"{slug(self.name, '-')}.example"

    @property
    def brand(self) -> str:
        return self.name.split()[0]


class Ids:
    """Primary keys handed out above each table's current maximum."""

    def __init__(self, last: dict[str, int]) -> None:
        self._last = last

    def take(self, table: str) -> int:
        self._last[table] += 1
        return self._last[table]


class Pending:
    """Rows waiting to be written, per table; `flush` inserts them in foreign-key order."""

    def __init__(self) -> None:
        self.rows: defaultdict[str, list[Row]] = defaultdict(list)
        self.counts: Counter[str] = Counter()

    async def flush(self, engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            for table in SQLModel.metadata.sorted_tables:
                rows = self.rows.pop(table.name, [])
                for start in range(0, len(rows), CHUNK):
                    await conn.execute(insert(table), rows[start : start + CHUNK])
                self.counts[table.name] += len(rows)


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------


async def seed_demo(
    engine: AsyncEngine,
    *,
    opportunities: int,
    organization: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> SeedReport:
    """Insert `opportunities` demo opportunities and everything they refer to (see the module docstring)."""
    if opportunities < 0:
        raise ValueError("opportunities must be zero or more")
    started = time.perf_counter()
    async with engine.connect() as conn:
        ids = Ids(await max_ids(conn))
    pending, done = Pending(), []
    with tqdm(total=opportunities, disable=not progress, file=sys.stderr, unit="opp", desc="seeding") as bar:
        for name, currency, count in plan(opportunities, organization):
            # one generator per organization: its rows do not depend on the others'
            rng = random.Random(f"{seed}:{name}")
            org = await seed_organization(engine, Seeder(rng, pending, ids), name, currency, count, bar)
            done.append((org.id, org.name))
    counts = {table: n for table, n in pending.counts.items() if n}
    if engine.dialect.name == "postgresql":
        await reset_sequences(engine, counts)
    return SeedReport(done, counts, round(time.perf_counter() - started, 3))


async def has_data(engine: AsyncEngine) -> bool:
    """Whether any opportunity exists, in any organization."""
    async with engine.connect() as conn:
        return bool(await conn.scalar(select(exists().select_from(TABLES["opportunity"]))))


def plan(opportunities: int, organization: str | None) -> list[tuple[str, str, int]]:
    """(organization name, base currency, opportunities) for each organization to fill."""
    if organization is not None:
        return [(organization, "USD", opportunities)]
    rest = [int(opportunities * share) for share in DEMO_SHARES]
    counts = [opportunities - sum(rest), *rest]
    return [(name, cur, n) for (name, cur), n in zip(DEMO_ORGANIZATIONS, counts, strict=True)]


async def seed_organization(
    engine: AsyncEngine, seeder: Seeder, name: str, currency: str, count: int, bar: tqdm
) -> OrgRef:
    """The organization (loaded, or created), its lookups and customers, then its opportunities."""
    async with engine.connect() as conn:
        existing = await load_organization(conn, name)
    seeder.org = existing or seeder.new_organization(name, currency)
    seeder.add_lookups()
    seeder.add_customers(max(20, count // 10))
    seeder.add_agents(max(8, count // 400))
    await seeder.pending.flush(engine)
    for start in range(0, count, CHUNK):
        size = min(CHUNK, count - start)
        for _ in range(size):
            seeder.add_opportunity()
        await seeder.pending.flush(engine)
        bar.update(size)
    return seeder.org


async def max_ids(conn: AsyncConnection) -> dict[str, int]:
    return {t.name: await conn.scalar(select(func.max(t.c.id))) or 0 for t in id_tables()}


def id_tables() -> list[Table]:
    return [t for t in SQLModel.metadata.sorted_tables if "id" in t.c and t.c.id.primary_key]


async def reset_sequences(engine: AsyncEngine, tables: Iterable[str]) -> None:
    # Explicit ids leave PostgreSQL's sequences behind: the next plain insert would collide.
    quote = engine.dialect.identifier_preparer.quote
    async with engine.begin() as conn:
        for name in (t.name for t in id_tables() if t.name in tables):
            q = quote(name)  # "user" is a reserved word
            await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{q}', 'id'), max(id)) FROM {q}"))


# ---------------------------------------------------------------------------
# An existing organization: what new opportunities reuse
# ---------------------------------------------------------------------------


async def load_organization(conn: AsyncConnection, name: str) -> OrgRef | None:
    t = TABLES["organization"]
    found = (await conn.execute(select(t.c.id, t.c.base_currency).where(t.c.name == name))).first()
    if found is None:
        return None
    org = OrgRef(found.id, name, found.base_currency)
    org.emails = dict(await pairs(conn, "user", "email", "id", org.id))
    for kind, reason_id in await pairs(conn, "close_reason", "kind", "id", org.id):
        org.reasons.setdefault(kind, []).append(reason_id)
    org.channels = dict(await pairs(conn, "channel", "name", "id", org.id, only="is_active"))
    org.types = dict(await pairs(conn, "opportunity_type", "name", "id", org.id))
    org.pipelines = await load_pipelines(conn, org.id)
    org.fields = await load_fields(conn, org.id)
    org.positions = await load_positions(conn, org.id)
    return org


async def pairs(
    conn: AsyncConnection, table: str, key: str, value: str, org_id: int, only: str | None = None
) -> list[tuple[Any, Any]]:
    t = TABLES[table]
    query = select(t.c[key], t.c[value]).where(t.c.organization_id == org_id).order_by(t.c[value])
    if only is not None:
        query = query.where(t.c[only].is_(True))
    return [(k, v) for k, v in (await conn.execute(query)).all()]


async def load_pipelines(conn: AsyncConnection, org_id: int) -> list[PipelineRef]:
    """Pipelines with at least one stage, their stages in board order."""
    p, s = TABLES["pipeline"], TABLES["stage"]
    query = (
        select(p.c.id, p.c.name, p.c.currency, s.c.id.label("stage_id"), s.c.type, s.c.probability)
        .join(s, s.c.pipeline_id == p.c.id)
        .where(p.c.organization_id == org_id)
        .order_by(p.c.id, s.c.position, s.c.id)
    )
    heads: dict[int, Any] = {}
    stages: defaultdict[int, list[StageRef]] = defaultdict(list)
    for row in (await conn.execute(query)).all():
        heads.setdefault(row.id, row)
        stages[row.id].append(StageRef(row.stage_id, row.type, row.probability))
    return [pipeline_ref(pid, head.name, head.currency, stages[pid]) for pid, head in heads.items()]


def pipeline_ref(pid: int, name: str, currency: str | None, stages: list[StageRef]) -> PipelineRef:
    # a pipeline this module did not create gets the deal kinds of "New business"
    _, type_name, kinds, _ = next((p for p in PIPELINES if p[0] == name), PIPELINES[0])
    return PipelineRef(pid, currency or "USD", kinds, type_name, stages)


async def load_fields(conn: AsyncConnection, org_id: int) -> list[FieldRef]:
    t = TABLES["custom_field_definition"]
    query = select(t.c.id, t.c.field_type, t.c.options, t.c.is_required).where(t.c.organization_id == org_id)
    return [FieldRef(*row) for row in (await conn.execute(query.order_by(t.c.position, t.c.id))).all()]


async def load_positions(conn: AsyncConnection, org_id: int) -> Counter[int]:
    t = TABLES["opportunity"]
    query = select(t.c.stage_id, func.max(t.c.position)).where(t.c.organization_id == org_id)
    rows = (await conn.execute(query.group_by(t.c.stage_id))).all()
    return Counter({stage: last or 0 for stage, last in rows if stage is not None})


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
        for position, (label, field_type, options, required) in enumerate(CUSTOM_FIELDS, 1):
            field_id = self.ids.take("custom_field_definition")
            self.add("custom_field_definition", {
                "id": field_id, "organization_id": self.org.id, "label": label, "field_type": field_type,
                "position": position, "options": options, "is_required": required,
                "mask": "PO-9999-99999" if field_type == TEXT_FIELD else None,
            })  # fmt: skip
            self.org.fields.append(FieldRef(field_id, field_type, options, required))

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
        """A value for every required field and for about half of the optional ones."""
        for definition in self.org.fields:
            if not definition.required and self.rng.random() < 0.45:
                continue
            value = custom_value(self.rng, definition, close)
            if value is not None:
                self.add("custom_field_value", {"opportunity_id": opp_id, "definition_id": definition.id,
                                                "organization_id": self.org.id, "value": value})  # fmt: skip


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


def slug(text: str, sep: str = "") -> str:
    """ASCII, lower case, anything else collapsed into `sep`: for emails and domains."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", sep, plain).strip(sep)
