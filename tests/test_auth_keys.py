"""API keys: stored as salted hashes, refused when unknown, revoked or expired; managed from the CLI and by admins."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app import models as m
from app.cli import main
from app.enums import Role
from app.sqltypes import utcnow
from tests.support import Api, Tenant, add_user, gid, make_tenant, unscoped

VIEWER = "{ viewer { email } }"
CREATE = """
mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) {
    key apiKey { id name prefix roles isActive expiresAt user { email } }
    errors { field code message }
  }
}
"""
REVOKE = "mutation ($id: ID!) { revokeApiKey(id: $id) { apiKey { prefix isActive revokedAt } errors { field code } } }"
LIST = "query ($all: Boolean!) { apiKeys(includeRevoked: $all) { prefix roles isActive lastUsedAt user { email } } }"


async def _status(api: Api, key: str) -> int:
    return (await api.raw(VIEWER, key=key)).status_code


async def test_only_a_salted_hash_is_stored(api: Api, tenant: Tenant, engine) -> None:
    _, prefix, secret = tenant.key.split("_")
    async with unscoped(engine) as s:
        row = (await s.execute(select(m.ApiKey).where(m.ApiKey.prefix == prefix))).scalar_one()
    assert secret not in row.secret_hash and secret not in row.salt
    assert row.secret_hash != hashlib.sha256(secret.encode()).hexdigest()  # salted, not a bare hash
    assert row.secret_hash == hashlib.sha256(f"{row.salt}:{secret}".encode()).hexdigest()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_revoked_and_expired_keys_are_refused(api: Api, tenant: Tenant, engine, app_client) -> None:
    # a change made in SQL (or by another process) reaches the key cache within its bound
    clock = app_client[0].state.keys.clock = FakeClock()
    assert await _status(api, tenant.key) == 200
    _, prefix, _ = tenant.key.split("_")
    async with unscoped(engine) as s:
        await s.execute(
            update(m.ApiKey)
            .where(m.ApiKey.prefix == prefix)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    clock.now += app_client[0].state.keys.ttl
    assert await _status(api, tenant.key) == 401
    async with unscoped(engine) as s:
        await s.execute(
            update(m.ApiKey).where(m.ApiKey.prefix == prefix).values(expires_at=None, revoked_at=utcnow())
        )
    clock.now += app_client[0].state.keys.ttl
    response = await api.raw(VIEWER)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_key_records_when_it_was_last_used(api: Api, tenant: Tenant, app_client) -> None:
    before = utcnow()
    await api(VIEWER)
    await app_client[0].state.keys.stamps.flush()  # what the app does off the request path
    [key] = (await api(LIST, {"all": False}))["apiKeys"]
    assert key["lastUsedAt"] is not None and key["lastUsedAt"] >= before.isoformat()[:19]


async def test_admins_create_list_and_revoke_keys(api: Api, tenant: Tenant, engine) -> None:
    user_id, _ = await add_user(engine, "Acme", "sales@acme.test", Role.VIEWER)
    expires = (utcnow() + timedelta(days=30)).isoformat()
    data = await api(
        CREATE,
        {
            "input": {
                "roles": ["EDITOR", "VIEWER"],
                "name": "CI",
                "userId": gid("User", user_id),
                "expiresAt": expires,
            }
        },
    )
    payload = data["createApiKey"]
    assert payload["errors"] == []
    new = payload["apiKey"]
    assert (new["name"], new["roles"], new["isActive"], new["user"]) == (
        "CI",
        ["VIEWER", "EDITOR"],
        True,
        {"email": "sales@acme.test"},
    )
    assert payload["key"].startswith(f"og_{new['prefix']}_")
    assert (await api(VIEWER, key=payload["key"]))["viewer"]["email"] == "sales@acme.test"
    listed = (await api(LIST, {"all": False}))["apiKeys"]
    assert new["prefix"] in [k["prefix"] for k in listed]
    assert "key" not in listed[0] and all(
        set(k) == {"prefix", "roles", "isActive", "lastUsedAt", "user"} for k in listed
    )

    revoked = (await api(REVOKE, {"id": new["id"]}))["revokeApiKey"]
    assert revoked["errors"] == [] and revoked["apiKey"]["isActive"] is False
    assert await _status(api, payload["key"]) == 401
    again = (await api(REVOKE, {"id": new["id"]}))["revokeApiKey"]
    assert again["apiKey"]["revokedAt"] == revoked["apiKey"]["revokedAt"]  # idempotent
    assert new["prefix"] not in [k["prefix"] for k in (await api(LIST, {"all": False}))["apiKeys"]]
    assert new["prefix"] in [k["prefix"] for k in (await api(LIST, {"all": True}))["apiKeys"]]


async def test_creating_a_key_checks_its_input_and_writes_nothing_on_error(api: Api, engine) -> None:
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    other = await make_tenant(engine, "Globex", Role.ADMIN)
    cases = [
        ({"roles": []}, ["input", "roles"], "REQUIRED"),
        ({"roles": ["VIEWER"], "expiresAt": past}, ["input", "expiresAt"], "INVALID"),
        ({"roles": ["VIEWER"], "name": "x" * 300}, ["input", "name"], "TOO_LONG"),
        ({"roles": ["VIEWER"], "userId": gid("User", other.user_id)}, ["input", "userId"], "NOT_FOUND"),
        ({"roles": ["VIEWER"], "userId": gid("Customer", 1)}, ["input", "userId"], "NOT_FOUND"),
    ]
    for given, field, code in cases:
        payload = (await api(CREATE, {"input": given}))["createApiKey"]
        assert (payload["key"], payload["apiKey"]) == (None, None)
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)], given
    assert len((await api(LIST, {"all": True}))["apiKeys"]) == 1
    # a time without an offset is taken as UTC (the fuzz run found it compared naive with aware)
    naive = (await api(CREATE, {"input": {"roles": ["VIEWER"], "expiresAt": "2999-01-01T00:00:00"}}))[
        "createApiKey"
    ]
    assert naive["errors"] == [] and naive["apiKey"]["expiresAt"] == "2999-01-01T00:00:00+00:00"


async def test_keys_of_another_organization_are_not_found_and_keep_working(api: Api, engine) -> None:
    other = await make_tenant(engine, "Globex", Role.ADMIN)
    async with unscoped(engine) as s:
        other_key = (
            await s.execute(select(m.ApiKey).where(m.ApiKey.organization_id == other.organization_id))
        ).scalar_one()
    payload = (await api(REVOKE, {"id": gid("ApiKey", other_key.id)}))["revokeApiKey"]
    assert payload == {"apiKey": None, "errors": [{"field": ["id"], "code": "NOT_FOUND"}]}
    assert await _status(api, other.key) == 200
    assert other_key.prefix not in [k["prefix"] for k in (await api(LIST, {"all": True}))["apiKeys"]]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR, Role.MANAGER])
async def test_only_admins_manage_keys(api: Api, engine, role: Role) -> None:
    _, key = await add_user(engine, "Acme", f"{role.value}@acme.test", role)
    # a viewer may run no mutation at all, so a mutation is refused for want of editor first
    mutation_needs = "editor" if role is Role.VIEWER else "admin"
    for query, variables, needs in (
        (CREATE, {"input": {"roles": ["ADMIN"]}}, mutation_needs),
        (LIST, {"all": True}, "admin"),
        (REVOKE, {"id": gid("ApiKey", 1)}, mutation_needs),
    ):
        response = await api.raw(query, variables, key=key)
        body = response.json()
        assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN", "required_role": needs}
        assert body.get("data") is None


def test_the_cli_lists_and_revokes_keys(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    main(
        [
            "create-api-key",
            "--organization",
            "Initech",
            "--user",
            "bill@initech.test",
            "--role",
            "viewer",
            "--name",
            "laptop",
            "--expires-in-days",
            "7",
        ]
    )
    out = capsys.readouterr().out.strip().splitlines()
    key = out[-1]
    assert "until" in out[0]
    prefix = key.split("_")[1]
    main(["list-api-keys", "--organization", "Initech"])
    header, row = capsys.readouterr().out.strip().splitlines()
    assert header.split("\t")[0] == "PREFIX"
    cells = row.split("\t")
    assert cells[:5] == [prefix, "Initech", "bill@initech.test", "viewer", "laptop"] and cells[-1] == "active"
    assert key.split("_")[2] not in row  # never the secret

    main(["revoke-api-key", key])  # the whole key works as well as its prefix
    assert capsys.readouterr().out.strip() == f"revoked the API key {prefix}"
    main(["list-api-keys"])
    assert prefix not in capsys.readouterr().out
    main(["list-api-keys", "--all"])
    assert capsys.readouterr().out.strip().splitlines()[1].endswith("revoked")
    with pytest.raises(SystemExit, match="no API key"):
        main(["revoke-api-key", "nope"])
