"""Relation fields run their lean resolvers: installed into graphql-core when the schema is built.

They are installed through strawberry's private `_schema`; if an upgrade changed that, the
fields would silently fall back to strawberry's slower wrapper, so this test fails instead.
"""

from __future__ import annotations

from app.graphql.registry import REL
from app.graphql.relations import LEAN, install_lean_resolvers
from app.graphql.schema import build_schema


def _relation_fields(schema) -> list[tuple[str, str, object, object]]:
    found = []
    for type_name, gql_type in schema._schema.type_map.items():
        for field_name, gql_field in (getattr(gql_type, "fields", None) or {}).items():
            definition = (gql_field.extensions or {}).get("strawberry-definition")
            meta = getattr(definition, "metadata", None) or {}
            if LEAN in meta:
                found.append((type_name, field_name, gql_field.resolve, meta[LEAN]))
    return found


def test_every_relation_field_resolves_through_its_lean_resolver() -> None:
    schema = build_schema()
    fields = _relation_fields(schema)
    names = {f"{t}.{f}" for t, f, _, _ in fields}
    assert {"Opportunity.customer", "Opportunity.items", "Opportunity.tags", "Stage.pipeline"} <= names
    assert {"CustomFieldValue.definition", "OpportunityGroup.owner", "Opportunity.contacts"} <= names
    assert "Opportunity.externalIds" in names
    assert len(fields) == 33
    assert [f"{t}.{f}" for t, f, resolve, lean in fields if resolve is not lean] == []
    # installing again finds the same fields: the count is what the schema holds
    assert install_lean_resolvers(schema) == 33


def test_connection_fields_keep_strawberrys_resolver() -> None:
    schema = build_schema()
    customers = schema._schema.type_map["Customer"].fields["opportunities"]
    meta = customers.extensions["strawberry-definition"].metadata
    assert REL in meta and LEAN not in meta  # a connection takes arguments: strawberry converts them
