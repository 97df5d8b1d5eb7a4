"""Roles × operations: every query field and every mutation of the schema, for every role.

The operations are read from the schema itself, so a mutation added later is in the
matrix without anyone listing it; its expected role comes from the role bundles of docs/security.md.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    get_named_type,
    is_leaf_type,
)
from sqlalchemy import update

from app import models as m
from app.enums import Role
from app.graphql.schema import build_schema
from tests.support import Api, Tenant, add_user, unscoped

SCHEMA = build_schema()._schema
ROLES = [Role.VIEWER, Role.EDITOR, Role.MANAGER, Role.ADMIN]
BOGUS_ID = "T3Bwb3J0dW5pdHk6OTk5OTk5"  # Opportunity:999999, which does not exist

LOOKUPS = ("Pipeline", "Stage", "CloseReason", "Channel", "OpportunityType")


def expected_role(mutation: str) -> Role:
    """docs/security.md: viewer (list, read), editor (+ create, edit), manager (+ delete),
    admin (+ custom field definitions, lookups, private records, API keys)."""
    if mutation.endswith(
        ("ApiKey", "CustomFieldDefinition", "CustomFieldDefinitions", "ExchangeRate", *LOOKUPS)
    ):
        return Role.ADMIN
    if mutation in ("setOpportunityAccess", "purgeOpportunity"):  # who may see a private record; for good
        return Role.ADMIN
    if mutation.startswith("delete") or mutation == "restoreOpportunity":  # the trash is a manager's
        return Role.MANAGER
    return Role.EDITOR


def _value(t: Any) -> Any:
    """A minimal value of input type `t` (required fields only): shape matters here, not meaning."""
    if isinstance(t, GraphQLNonNull):
        return _value(t.of_type)
    if isinstance(t, GraphQLList):
        return []
    if isinstance(t, GraphQLEnumType):
        return next(iter(t.values))
    if isinstance(t, GraphQLInputObjectType):
        return {name: _value(f.type) for name, f in t.fields.items() if isinstance(f.type, GraphQLNonNull)}
    assert isinstance(t, GraphQLScalarType)
    scalars = {"ID": BOGUS_ID, "String": "x", "Int": 1, "Boolean": False, "Decimal": "1", "Float": 1.0}
    return {**scalars, "Date": "2026-01-01"}.get(t.name, "x")


def _selection(field: GraphQLField) -> str:
    t = get_named_type(field.type)
    if is_leaf_type(t):
        return ""
    return " { __typename }"


def call(name: str, field: GraphQLField, kind: str = "mutation") -> tuple[str, dict[str, Any]]:
    """A document calling root field `name` with minimal arguments given as variables."""
    required = {a: arg for a, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull)}
    decl = ", ".join(f"${a}: {arg.type}" for a, arg in required.items())
    args = ", ".join(f"{a}: ${a}" for a in required)
    document = (
        f"{kind}{f'({decl})' if decl else ''} {{ {name}{f'({args})' if args else ''}{_selection(field)} }}"
    )
    return document, {a: _value(arg.type) for a, arg in required.items()}


MUTATIONS = sorted(SCHEMA.mutation_type.fields.items())
QUERIES = sorted(SCHEMA.query_type.fields.items())


@pytest.fixture
async def keys(api: Api, engine) -> dict[Role, str]:
    out = {}
    for role in ROLES:
        _, key = await add_user(engine, "Acme", f"{role.value}@acme.test", role)
        out[role] = key
    return out


def _forbidden(body: dict[str, Any]) -> str | None:
    """The role a FORBIDDEN error asks for, or None when the call was not refused for its role."""
    for error in body.get("errors") or []:
        if error["extensions"]["code"] == "FORBIDDEN":
            return str(error["extensions"]["required_role"])
    return None


async def test_every_mutation_needs_its_role_and_no_more(api: Api, keys: dict[Role, str]) -> None:
    wrong: list[str] = []
    for name, field in MUTATIONS:
        document, variables = call(name, field)
        needed = expected_role(name)
        for role in ROLES:
            response = await api.raw(document, variables, key=keys[role])
            assert response.status_code == 200, (name, response.text)
            body = response.json()
            assert not any(
                e["extensions"]["code"] == "INTERNAL_SERVER_ERROR" for e in body.get("errors") or []
            ), (name, body)
            refused = _forbidden(body)
            allowed = ROLES.index(role) >= ROLES.index(needed)
            if allowed == (refused is not None):
                wrong.append(f"{name} as {role.value}: {'refused' if refused else 'allowed'}")
            if refused is not None:
                assert body.get("data") is None, name  # refused whole: nothing ran
    assert wrong == []


async def test_every_query_field_is_open_to_viewers_and_api_keys_to_admins(
    api: Api, keys: dict[Role, str]
) -> None:
    for name, field in QUERIES:
        document, variables = call(name, field, "query")
        for role in ROLES:
            body = (await api.raw(document, variables, key=keys[role])).json()
            refused = _forbidden(body)
            if name == "apiKeys" and role is not Role.ADMIN:
                assert refused == "admin", (name, role)
            elif name == "trashedOpportunities" and role in (Role.VIEWER, Role.EDITOR):
                assert refused == "manager", (name, role)
            else:  # minimal arguments may be refused as input (an empty groupBy), never for the role
                codes = {e["extensions"]["code"] for e in body.get("errors") or []}
                assert refused is None and codes <= {"BAD_USER_INPUT"}, (name, role, body)


async def test_a_key_without_any_role_can_run_nothing(api: Api, tenant: Tenant, engine) -> None:
    _, key = await add_user(engine, "Acme", "nobody@acme.test", Role.VIEWER)
    async with unscoped(engine) as s:
        await s.execute(update(m.ApiKey).where(m.ApiKey.prefix == key.split("_")[1]).values(roles=""))
    for document in ("{ viewer { id } }", "{ opportunities { totalCount } }", "{ __typename }"):
        body = (await api.raw(document, key=key)).json()
        assert body == {
            "data": None,
            "errors": [
                {
                    "message": "this needs the viewer role",
                    "extensions": {"code": "FORBIDDEN", "required_role": "viewer"},
                }
            ],
        }


async def test_can_edit_tells_each_role_what_it_may_change(
    api: Api, tenant: Tenant, engine, keys: dict[Role, str]
) -> None:
    from tests.support import insert, opportunity

    await insert(engine, opportunity(tenant.organization_id, title="Deal"))
    for role in ROLES:
        data = await api("{ opportunities { nodes { canEdit } } }", key=keys[role])
        assert data["opportunities"]["nodes"] == [{"canEdit": role is not Role.VIEWER}], role
