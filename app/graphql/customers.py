"""Customers (B2B accounts) and their contacts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from app import models as m
from app.graphql.common import (
    READS,
    BooleanFilter,
    DateTimeFilter,
    DecimalFilter,
    IntFilter,
    Node,
    StringFilter,
)
from app.graphql.registry import entity
from app.graphql.relations import children, connection, list_root, one_root, rel

# the to-many filter over a parent's deals, shared by every entity deals point at
RELATED_DEALS = ("RelatedOpportunitiesFilter", "deals")


@strawberry.type(description="A postal address.")
class Address:
    street: str | None = strawberry.field(description="Street and number.")
    city: str | None = strawberry.field(description="City.")
    state: str | None = strawberry.field(description="State, region or province.")
    postal_code: str | None = strawberry.field(description="Postal code.")
    country: str | None = strawberry.field(description="Country.")


@strawberry.type(description="A B2B customer (company, account) that deals are made with.")
class Customer(Node):
    name: str = strawberry.field(description="Company name.")
    website: str | None = strawberry.field(description="Web site URL.")
    industry: str | None = strawberry.field(description="Industry.")
    market_segment: str | None = strawberry.field(description="Market segment.")
    territory: str | None = strawberry.field(description="Sales territory.")
    customer_group: str | None = strawberry.field(description="Customer group.")
    number_of_employees: int | None = strawberry.field(description="Head count.")
    annual_revenue: Decimal | None = strawberry.field(description="Yearly revenue.")
    phone: str | None = strawberry.field(description="Main phone number.")
    created_at: datetime = strawberry.field(description="When the customer was created.")
    updated_at: datetime = strawberry.field(description="When the customer last changed.")
    street: strawberry.Private[str | None]
    city: strawberry.Private[str | None]
    state: strawberry.Private[str | None]
    postal_code: strawberry.Private[str | None]
    country: strawberry.Private[str | None]

    @strawberry.field(
        description="Postal address.", metadata={READS: ("street", "city", "state", "postal_code", "country")}
    )
    def address(self) -> Address:
        return Address(
            street=self.street,
            city=self.city,
            state=self.state,
            postal_code=self.postal_code,
            country=self.country,
        )

    contacts = children(
        m.Contact.customer_id,
        "Contact",
        "People at this customer, by name.",
        order=(m.Contact.display_name,),
        quantifier=("CustomerContactsFilter", "contacts"),
    )
    opportunities = connection(
        m.Opportunity.customer_id, "Opportunity", "Deals with this customer.", quantifier=RELATED_DEALS
    )


@strawberry.type(description="A person on the customer side.")
class Contact(Node):
    first_name: str | None = strawberry.field(description="Given name.")
    last_name: str | None = strawberry.field(description="Family name.")
    display_name: str = strawberry.field(description="Name to show.")
    email: str | None = strawberry.field(description="Email address.")
    phone: str | None = strawberry.field(description="Phone number.")
    mobile: str | None = strawberry.field(description="Mobile number.")
    whatsapp: str | None = strawberry.field(description="WhatsApp number.")
    job_title: str | None = strawberry.field(description="Job title.")
    is_company: bool = strawberry.field(description="True when this contact is a company, not a person.")
    avatar_url: str | None = strawberry.field(description="Picture URL.")
    created_at: datetime = strawberry.field(description="When the contact was created.")
    updated_at: datetime = strawberry.field(description="When the contact last changed.")
    customer_id: strawberry.Private[int | None]
    customer = rel(m.Contact.customer_id, Customer, "The customer this person works for.")
    opportunities = connection(
        m.Opportunity.contact_id,
        "Opportunity",
        "Deals where this person is the primary contact.",
        quantifier=RELATED_DEALS,
    )


CUSTOMER = entity(
    Customer,
    m.Customer,
    filters={
        "name": (StringFilter, "By company name."),
        "website": (StringFilter, "By web site."),
        "industry": (StringFilter, "By industry."),
        "market_segment": (StringFilter, "By market segment."),
        "territory": (StringFilter, "By territory."),
        "customer_group": (StringFilter, "By customer group."),
        "number_of_employees": (IntFilter, "By head count."),
        "annual_revenue": (DecimalFilter, "By yearly revenue."),
        "phone": (StringFilter, "By phone number."),
        "city": (StringFilter, "By city."),
        "state": (StringFilter, "By state."),
        "postal_code": (StringFilter, "By postal code."),
        "country": (StringFilter, "By country."),
        "created_at": (DateTimeFilter, "By creation time."),
        "updated_at": (DateTimeFilter, "By last change."),
        "contacts": "By the people at the customer: some, none or every.",
        "opportunities": "By the customer's deals: some, none or every (e.g. customers with an open deal).",
    },
    filter_doc="Which customers to return. Fields are combined with AND.",
    orders=[
        "ID",
        "NAME",
        "INDUSTRY",
        "NUMBER_OF_EMPLOYEES",
        "ANNUAL_REVENUE",
        "CITY",
        "COUNTRY",
        "CREATED_AT",
        "UPDATED_AT",
    ],
    order_exprs={"CITY": lambda: m.Customer.city},
    default_order=(("NAME", False),),
)
CONTACT = entity(
    Contact,
    m.Contact,
    filters={
        "first_name": (StringFilter, "By given name."),
        "last_name": (StringFilter, "By family name."),
        "display_name": (StringFilter, "By name to show."),
        "email": (StringFilter, "By email address."),
        "phone": (StringFilter, "By phone number."),
        "mobile": (StringFilter, "By mobile number."),
        "job_title": (StringFilter, "By job title."),
        "is_company": (BooleanFilter, "Companies or people."),
        "created_at": (DateTimeFilter, "By creation time."),
        "customer": "By the customer they work for.",
        "opportunities": "By the deals they are the primary contact of: some, none or every.",
    },
    filter_doc="Which contacts to return. Fields are combined with AND.",
    orders=["ID", "DISPLAY_NAME", "FIRST_NAME", "LAST_NAME", "EMAIL", "CREATED_AT"],
    default_order=(("DISPLAY_NAME", False),),
)
CustomerFilter = CUSTOMER.filter
ContactFilter = CONTACT.filter


@strawberry.type
class CustomerQueries:
    customer = one_root(Customer, "One customer by id.")
    customers = list_root(Customer, "Customers, by name unless `orderBy` says otherwise.")
    contact = one_root(Contact, "One contact by id.")
    contacts = list_root(Contact, "Contacts, by name unless `orderBy` says otherwise.")
