"""The deal filter fields that are not a column or a relation: tags, custom field values, search.

Each takes the filter input's value (duck-typed: the GraphQL input classes live in
`app.graphql.opportunities`) and returns a WHERE predicate on `opportunity`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import and_, or_, select, true

from app import models as m
from app.errors import BadUserInput
from app.ids import decode
from app.query.filters import compile_scalar
from app.query.sql import in_rows, word_search


def tags(flt: Any) -> Any:
    """`hasAny`, `hasAll`, `hasNone` over the deal's tags, combined with AND."""

    def having(names: list[str]) -> Any:
        sub = select(m.OpportunityTag.opportunity_id).where(m.OpportunityTag.tag.in_(names))
        return m.Opportunity.id.in_(sub)

    both = set(flt.has_all or []) & set(flt.has_none or [])
    if both:
        raise BadUserInput(
            f"`filter.tags`: {', '.join(sorted(both))} cannot be in both `hasAll` and `hasNone`",
            argument="filter",
        )
    terms = []
    if flt.has_any is not None:
        terms.append(having(flt.has_any))
    for tag in flt.has_all or []:
        terms.append(having([tag]))
    if flt.has_none:
        terms.append(~having(flt.has_none))
    return and_(true(), *terms)


def custom_fields(filters: list[Any]) -> Any:
    """Every custom field filter must match."""
    return and_(true(), *(_custom_field(flt) for flt in filters))


def _custom_field(flt: Any) -> Any:
    pk = decode("CustomFieldDefinition", flt.definition_id)
    if pk is None:
        # refused here too, not only by the check: a bulk write that compiles the filter without
        # it must not read "no value for a field that does not exist" as "every deal"
        raise BadUserInput(
            "`filter.customField.definitionId` is not a custom field definition", argument="filter"
        )
    value = m.CustomFieldValue.value
    definition = m.CustomFieldValue.definition_id == pk

    def having(*cond: Any) -> Any:
        sub = select(m.CustomFieldValue.opportunity_id).where(definition, value.is_not(None), *cond)
        return m.Opportunity.id.in_(sub)

    path = "filter.customField"
    terms = []
    if flt.is_set is not None:
        terms.append(having() if flt.is_set else ~having())
    if flt.text is not None:
        terms.append(having(compile_scalar(value, flt.text, path=f"{path}.text")))
    if flt.date is not None:
        terms.append(having(compile_scalar(value, flt.date, _iso, path=f"{path}.date")))
    if flt.checked is not None:
        # a box never set reads as unchecked, as it shows in a form
        terms.append(having(value == "true") if flt.checked else ~having(value == "true"))
    return and_(true(), *terms)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


MAX_SEARCH_WORDS = 16


def search(text: str) -> Any:
    """Every word must start a word of the title, the description or the customer's name."""
    if len(text) > 1000:
        raise BadUserInput("`filter.search` is longer than 1000 characters", argument="filter")
    words = re.findall(r"\w+", text)
    if len(words) > MAX_SEARCH_WORDS:
        raise BadUserInput(
            f"`filter.search` has {len(words)} words; at most {MAX_SEARCH_WORDS} are allowed",
            argument="filter",
        )
    o = m.Opportunity
    terms = [
        or_(
            word_search(word, o.title, o.description),
            in_rows(o.customer_id, select(m.Customer.id).where(word_search(word, m.Customer.name))),
        )
        for word in words
    ]
    return and_(true(), *terms)


def external_ids(flt: Any) -> Any:
    """Deals with an external id whose source and id match the given string filters (AND)."""
    x = m.ExternalId
    terms = [x.kind == "Opportunity"]
    if flt.source is not None:
        terms.append(compile_scalar(x.source, flt.source, path="filter.externalId.source"))
    if flt.external_id is not None:
        terms.append(compile_scalar(x.external_id, flt.external_id, path="filter.externalId.externalId"))
    return m.Opportunity.id.in_(select(x.opportunity_id).where(*terms))
