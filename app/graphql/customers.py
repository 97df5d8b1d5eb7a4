"""Customers (B2B accounts) and their contacts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from app import models as m
from app import query
from app.graphql.common import BooleanFilter, DateTimeFilter, DecimalFilter, IntFilter, Node, StringFilter
from app.graphql.lists import order_input, quantifier_input
from app.graphql.relations import connection_field, entity, filter_input, to_many, to_one
from app.query import Hop, Relation

if TYPE_CHECKING:  # the filter is made in the opportunities module, which imports this one
    from app.graphql.opportunities import RelatedOpportunitiesFilter

OPP = ("app.graphql.opportunities", "Opportunity")


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

    @strawberry.field(description="Postal address.")
    def address(self) -> Address:
        return Address(
            street=self.street,
            city=self.city,
            state=self.state,
            postal_code=self.postal_code,
            country=self.country,
        )

    contacts = to_many(
        ("app.graphql.customers", "Contact"),
        lambda: m.Contact.customer_id,
        lambda: (m.Contact.display_name,),
        "People at this customer, by name.",
    )
    opportunities = connection_field(
        OPP, "Deals with this customer.", partition=lambda: m.Opportunity.customer_id
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
    customer = to_one(Customer, "customer_id", "The customer this person works for.")
    opportunities = connection_field(
        OPP, "Deals where this person is the primary contact.", partition=lambda: m.Opportunity.contact_id
    )


CUSTOMER_SPEC = query.FilterSpec(
    m.Customer,
    relations={
        "contacts": lambda: Relation((Hop(m.Customer.id, m.Contact.customer_id),), many=True),
        "opportunities": lambda: Relation((Hop(m.Customer.id, m.Opportunity.customer_id),), many=True),
    },
    orders={"CITY": lambda: m.Customer.city},
    default_order=(("NAME", False),),
)
_OPP_FILTERS = "app.graphql.opportunities"
CustomerFilter = filter_input(
    "CustomerFilter",
    __name__,
    CUSTOMER_SPEC,
    {
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
        "contacts": (
            Annotated["CustomerContactsFilter", strawberry.lazy("app.graphql.customers")],
            "By the people at the customer: some, none or every.",
        ),
        "opportunities": (
            Annotated["RelatedOpportunitiesFilter", strawberry.lazy(_OPP_FILTERS)],
            "By the customer's deals: some, none or every (e.g. customers with an open deal).",
        ),
    },
    "Which customers to return. Fields are combined with AND.",
)
CustomerOrder = order_input(
    "Customer",
    [
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
    __name__,
)

CONTACT_SPEC = query.FilterSpec(
    m.Contact,
    relations={
        "customer": lambda: Relation((Hop(m.Contact.customer_id, m.Customer.id),)),
        "opportunities": lambda: Relation((Hop(m.Contact.id, m.Opportunity.contact_id),), many=True),
    },
    default_order=(("DISPLAY_NAME", False),),
)
ContactFilter = filter_input(
    "ContactFilter",
    __name__,
    CONTACT_SPEC,
    {
        "first_name": (StringFilter, "By given name."),
        "last_name": (StringFilter, "By family name."),
        "display_name": (StringFilter, "By name to show."),
        "email": (StringFilter, "By email address."),
        "phone": (StringFilter, "By phone number."),
        "mobile": (StringFilter, "By mobile number."),
        "job_title": (StringFilter, "By job title."),
        "is_company": (BooleanFilter, "Companies or people."),
        "created_at": (DateTimeFilter, "By creation time."),
        "customer": (CustomerFilter, "By the customer they work for."),
        "opportunities": (
            Annotated["RelatedOpportunitiesFilter", strawberry.lazy(_OPP_FILTERS)],
            "By the deals they are the primary contact of: some, none or every.",
        ),
    },
    "Which contacts to return. Fields are combined with AND.",
)
CustomerContactsFilter = quantifier_input("CustomerContactsFilter", ContactFilter, "contacts", __name__)
ContactOrder = order_input(
    "Contact", ["ID", "DISPLAY_NAME", "FIRST_NAME", "LAST_NAME", "EMAIL", "CREATED_AT"], __name__
)
entity(Customer, m.Customer, CUSTOMER_SPEC)
entity(Contact, m.Contact, CONTACT_SPEC)
