"""The demo vocabulary: names, places, products and the weights the seeder draws with (data only)."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from app.enums import BidType, CustomFieldType, LeadSource, Priority, StageType

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
# label, type, options, and whether every demo deal has a value for it
CUSTOM_FIELDS = (
    ("Qualification", HEADING, None, False),
    ("Contract term", SELECT_BOX, CONTRACT_TERMS, True),
    ("Legal review required", CHECK_BOX, None, False),
    ("Kick-off date", DATE, None, False),
    ("Purchase order number", TEXT_FIELD, None, False),
    ("Decision criteria", TEXT_AREA, None, False),
)
# "Contract term" is a required field (every new deal must give it) only in these organizations:
# the example of a required custom field. The demo key's organization (Acme Demo) requires none,
# so a newcomer's first createOpportunity does not need to know about custom fields.
REQUIRED_FIELDS = {"Globex Demo": ("Contract term",)}
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
