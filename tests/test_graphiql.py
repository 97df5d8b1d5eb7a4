"""GraphiQL served by the gateway: shipped assets, the page, the demo key, and a real browser offline."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.demo import seed_demo
from app.enums import Role
from app.graphiql import assets
from app.graphiql.documents import BOARD, BOARD_VARIABLES, DEAL_PAGE, DEAL_PAGE_VARIABLES, default_tabs
from tests.browser import Page, chromium, chromium_path, is_local, uvicorn_serving
from tests.support import Api, add_user, make_tenant, running_app

DEMO_ORG = "Acme Demo"  # the organization `serve --demo` makes its key in


def _page_config(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="og-graphiql-config" type="application/json">(.*?)</script>', html, re.S)
    assert found is not None, html
    return json.loads(found.group(1))


# ------------------------------------------------------------------ the shipped files


def test_the_shipped_assets_are_the_ones_in_the_manifest() -> None:
    manifest = assets.manifest()
    on_disk = {p.name for p in assets.STATIC.iterdir()}
    assert on_disk == {*manifest["files"], "MANIFEST.json"}
    for name, entry in manifest["files"].items():
        assert isinstance(entry, dict)
        assert hashlib.sha256((assets.STATIC / name).read_bytes()).hexdigest() == entry["sha256"], name
        assert entry["package"] in manifest["packages"]
    for name, package in manifest["packages"].items():
        assert isinstance(package, dict)
        assert str(package["integrity"]).startswith("sha512-"), name
        assert str(package["tarball"]).endswith(f"/{name}-{package['version']}.tgz"), name
        # every package's license ships beside its files
        license_text = (assets.STATIC / f"{name}.LICENSE").read_text(encoding="utf-8")
        assert "MIT License" in license_text and "Permission is hereby granted" in license_text


def test_only_production_builds_ship() -> None:
    names = set(assets.manifest()["files"])
    assert {n for n in names if n.endswith(".js")} == {
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
        "graphql-ws.min.js",
    }
    total = sum((assets.STATIC / n).stat().st_size for n in names)
    assert total < 2_000_000, total


def test_the_assets_are_in_the_wheel() -> None:
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    data_line = next(line for line in pyproject.splitlines() if line.startswith("app = ["))
    for pattern in ('"graphiql/static/*"', '"graphiql/*.js"', '"graphiql/*.css"'):
        assert pattern in data_line


# ------------------------------------------------------------------ the page and its assets


async def test_the_page_loads_nothing_from_another_origin(api: Api) -> None:
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    refs = re.findall(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]*)"', html)
    assert len(refs) == 8  # icon, 2 stylesheets, 5 scripts (graphql-ws among them)
    for ref in refs:
        assert ref == "data:," or ref.startswith("/graphiql/"), ref
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "connect-src 'self';" in csp and "http" not in csp
    config = _page_config(html)
    assert config == {
        "endpoint": "/graphql",
        "subscriptionEndpoint": "/graphql",  # graphql-transport-ws on the same path
        "demoKey": None,
        "defaultTabs": default_tabs(),
    }


async def test_every_asset_the_page_names_is_served_with_its_type_and_a_long_cache(api: Api) -> None:
    html = (await api.client.get("/graphql", headers={"Accept": "text/html"})).text
    refs = re.findall(r'(?:src|href)="(/graphiql/[^"]+)"', html)
    kinds = {}
    for ref in refs:
        response = await api.client.get(ref)
        assert response.status_code == 200, ref
        name = ref.split("/")[-1].split("?")[0]
        assert response.content == assets.assets()[name].body
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
        kinds[name] = response.headers["content-type"]
    assert kinds == {
        "graphiql.min.css": "text/css; charset=utf-8",
        "ide.css": "text/css; charset=utf-8",
        "react.production.min.js": "text/javascript; charset=utf-8",
        "react-dom.production.min.js": "text/javascript; charset=utf-8",
        "graphiql.min.js": "text/javascript; charset=utf-8",
        "graphql-ws.min.js": "text/javascript; charset=utf-8",
        "ide.js": "text/javascript; charset=utf-8",
    }


async def test_assets_revalidate_compress_and_refuse_unknown_names(api: Api) -> None:
    client = api.client
    asset = assets.assets()["graphiql.min.js"]
    stale = await client.get("/graphiql/graphiql.min.js?v=0000000000000000")
    assert stale.headers["cache-control"] == "no-cache"  # another version: always revalidated
    assert stale.headers["etag"] == f'"{asset.version}"'
    again = await client.get("/graphiql/graphiql.min.js", headers={"If-None-Match": stale.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    raw = await client.get("/graphiql/graphiql.min.js", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert int(raw.headers["content-length"]) < len(asset.body) // 2
    assert raw.content == asset.body  # httpx decodes it
    head = await client.head("/graphiql/react.LICENSE", headers={"Accept-Encoding": "identity"})
    assert (head.status_code, head.headers["content-type"]) == (200, "text/plain; charset=utf-8")
    assert (head.headers["content-length"], head.content) == (
        str(len(assets.assets()["react.LICENSE"].body)),
        b"",
    )
    for name in ("MANIFEST.json", "..%2Fpage.py", "nope.js", "%2E%2E/%2E%2E/etc/passwd"):
        missing = await client.get(f"/graphiql/{name}")
        assert missing.status_code == 404, name
        assert missing.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_assets_are_not_served_when_graphiql_is_off(database_url: str) -> None:
    async with running_app(database_url, graphiql=False) as (_, client):
        response = await client.get("/graphiql/ide.js")
    assert response.status_code == 404


async def test_the_demo_key_is_written_only_for_a_visitor_on_this_machine(database_url: str) -> None:
    async def demo_key(base_url: str, client_addr: tuple[str, int], **headers: str) -> Any:
        app_transport = httpx.ASGITransport(app=app, client=client_addr)
        async with httpx.AsyncClient(transport=app_transport, base_url=base_url) as client:
            response = await client.get("/graphql", headers={"Accept": "text/html", **headers})
        return _page_config(response.text)["demoKey"]

    async with running_app(database_url, graphiql_demo_key="og_demo_key") as (app, _):
        assert await demo_key("http://127.0.0.1:8000", ("127.0.0.1", 5000)) == "og_demo_key"
        assert await demo_key("http://localhost:8000", ("127.0.0.1", 5000)) == "og_demo_key"
        assert await demo_key("http://[::1]:8000", ("::1", 5000)) == "og_demo_key"
        # another client, another server address, another Host name (DNS rebinding): no key
        assert await demo_key("http://127.0.0.1:8000", ("203.0.113.7", 5000)) is None
        assert await demo_key("http://10.0.0.5:8000", ("127.0.0.1", 5000)) is None
        assert await demo_key("http://127.0.0.1:8000", ("127.0.0.1", 5000), host="evil.example:8000") is None
    async with running_app(database_url) as (app, _):  # not set: never a key
        assert await demo_key("http://127.0.0.1:8000", ("127.0.0.1", 5000)) is None


@pytest.mark.parametrize(
    ("host", "prefilled"), [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False)]
)
def test_serve_demo_hands_its_key_to_graphiql_only_on_a_loopback_host(
    host: str,
    prefilled: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app import cli, serve

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("OG_GRAPHIQL_DEMO_KEY", "")  # restored (unset) after the test
    monkeypatch.setattr(cli, "_prepare_demo", lambda n: "og_demo_key")
    served: list[dict[str, Any]] = []
    monkeypatch.setattr(serve, "serve", lambda host, port, workers: served.append({"host": host}))
    cli.main(["serve", "--demo", "--host", host])
    assert [kw["host"] for kw in served] == [host]
    assert os.environ["OG_GRAPHIQL_DEMO_KEY"] == ("og_demo_key" if prefilled else "")
    expected = "pre-filled with this key" if prefilled else "paste this key"
    assert f"GraphiQL's key field: {expected}" in capsys.readouterr().out


async def test_the_default_documents_run_on_the_demo_data(engine: AsyncEngine, api: Api) -> None:
    await seed_demo(engine, opportunities=120, progress=False)
    key = (await make_tenant(engine, DEMO_ORG, Role.VIEWER, email="reader@acme-demo.example")).key
    board = await api(BOARD, BOARD_VARIABLES, key=key)
    [pipeline] = board["pipelines"]["nodes"]
    assert pipeline["name"] == "New business"
    assert [s["name"] for s in pipeline["stages"]] == [
        "Prospecting",
        "Qualification",
        "Needs analysis",
        "Proposal",
        "Negotiation",
        "Closed won",
        "Closed lost",
    ]
    assert sum(s["opportunities"]["totalCount"] for s in pipeline["stages"]) > 0
    deal = await api(DEAL_PAGE, DEAL_PAGE_VARIABLES, key=key)
    [node] = deal["opportunities"]["nodes"]
    assert (node["status"], node["pipeline"]["name"], node["stage"]["name"]) == (
        "OPEN",
        "New business",
        "Negotiation",
    )
    assert node["customer"]["name"]


# ------------------------------------------------------------------ a real browser, offline


def _browser() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("CI must run the GraphiQL browser test: install Debian's `chromium` (see .ci/run)")
        pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test")
    return path


def _introspection(key: str) -> Any:
    return lambda r: (
        r.method == "POST"
        and "IntrospectionQuery" in (r.body or "")
        and r.header("authorization") == f"Bearer {key}"
    )


async def _result(page: Page) -> Any:
    """The JSON in GraphiQL's response pane, once there is some."""
    text = await page.wait_for(
        "(() => { const cm = document.querySelector('.result-window .CodeMirror');"
        " return cm && cm.CodeMirror.getValue(); })()"
    )
    return json.loads(text)


def _assert_offline(page: Page) -> None:
    """Nothing was attempted beyond loopback (blocked, or stopped by the page's CSP), nothing threw."""
    assert page.blocked == []
    assert [r.url for r in page.requests if not is_local(r.url)] == []
    assert len(page.requests) >= 6  # the page and its assets at least: the recording works
    assert page.exceptions == []


async def _seed_for_browser(engine: AsyncEngine) -> tuple[str, str]:
    """The demo data; an Acme Demo viewer's key, and a key in another organization."""
    await seed_demo(engine, opportunities=120, progress=False)
    acme = await make_tenant(engine, DEMO_ORG, Role.VIEWER, email="reader@acme-demo.example")
    _, globex = await add_user(engine, "Globex Demo", "reader@globex-demo.example", Role.VIEWER)
    return acme.key, globex


async def test_graphiql_works_offline_in_headless_chromium(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    executable = _browser()
    key, other_key = await _seed_for_browser(engine)
    async with uvicorn_serving(database_url) as base, chromium(executable) as new_page:
        page = await new_page()
        # the fence works: an outside address is refused and recorded
        await page.goto("https://example.com/")
        await page.wait_request(lambda r: r.url == "https://example.com/")
        assert page.blocked == ["https://example.com/"]
        page.blocked.clear()
        page.requests.clear()

        # first visit, no key: the prompt, and no GraphQL request at all
        await page.goto(f"{base}/graphql")
        await page.wait_for("document.querySelector('.og-prompt') !== null")
        assert await page.evaluate("document.readyState") == "complete"
        assert await page.evaluate("typeof GraphiQL.createFetcher") == "function"
        assert [r for r in page.requests if r.method == "POST"] == []
        assert await page.evaluate("document.getElementById('og-key-status').textContent") == "No key yet."
        await page.screenshot(tmp_path / "graphiql-no-key.png")

        # a key typed in: the schema is fetched with it, a query runs, its data is shown
        await page.evaluate("document.getElementById('og-key').focus()")
        await page.send("Input.insertText", text=key)
        await page.evaluate("document.getElementById('og-key-use').click()")
        schema = await page.wait_request(_introspection(key))
        assert schema.status == 200
        await page.wait_for("document.querySelector('.graphiql-execute-button') !== null")
        assert "query Board(" in await page.evaluate(
            "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()"
        )
        # the variables editor holds the demo's names (it may mount a moment after the query editor)
        await page.wait_for(
            "[...document.querySelectorAll('.CodeMirror')]"
            '.some(cm => cm.CodeMirror.getValue().includes(\'"pipeline": "New business"\'))'
        )
        await page.evaluate("document.querySelector('.graphiql-execute-button').click()")
        body = await _result(page)
        assert "errors" not in body, body
        [pipeline] = body["data"]["pipelines"]["nodes"]
        assert pipeline["name"] == "New business" and len(pipeline["stages"]) == 7
        cards = [c for s in pipeline["stages"] for c in s["opportunities"]["nodes"]]
        assert cards and all(c["title"] for c in cards)
        ran = [r for r in page.requests if r.method == "POST" and "query Board(" in (r.body or "")]
        assert [(r.status, r.header("authorization")) for r in ran] == [(200, f"Bearer {key}")]
        shot = await page.screenshot(tmp_path / "graphiql.png")
        print(f"GraphiQL screenshot: {shot}")
        assert await page.evaluate("localStorage.getItem('opportunity-gateway:api-key')") == key

        # the second tab: a deal's page, with its own variables
        await page.evaluate("document.querySelectorAll('.graphiql-tab-button')[1].click()")
        await page.wait_for(
            "[...document.querySelectorAll('.CodeMirror')]"
            '.some(cm => cm.CodeMirror.getValue().includes(\'"stage": "Negotiation"\'))'
        )
        # GraphiQL takes the operation name from a debounced parse of the editor: run once the
        # switch is settled (its debounced tab store names DealPage), or it may send "Board"
        await page.wait_for(
            "(JSON.parse(localStorage.getItem('graphiql:tabState')) || {}).activeTabIndex === 1"
        )
        since = len(page.requests)
        await page.evaluate("document.querySelector('.graphiql-execute-button').click()")
        ran = await page.wait_request(lambda r: "query DealPage(" in (r.body or ""), since=since)
        assert json.loads(ran.body or "")["operationName"] == "DealPage"
        assert (ran.status, json.loads(ran.body or "")["variables"]) == (200, DEAL_PAGE_VARIABLES)
        await page.wait_for(
            "document.querySelector('.result-window .CodeMirror').CodeMirror.getValue().includes('\"opportunities\"')"
        )
        deal = await _result(page)
        assert "errors" not in deal, deal
        [node] = deal["data"]["opportunities"]["nodes"]
        assert (node["stage"]["name"], node["status"]) == ("Negotiation", "OPEN")
        await page.screenshot(tmp_path / "graphiql-deal-page.png")

        # another key: the schema is fetched again, with that key
        await page.evaluate(
            f"(() => {{ const i = document.getElementById('og-key'); i.value = {json.dumps(other_key)};"
            " document.getElementById('og-key-use').click(); })()"
        )
        assert (await page.wait_request(_introspection(other_key))).status == 200

        # a refused key says so in the key bar
        await page.evaluate(
            "(() => { const i = document.getElementById('og-key'); i.value = 'og_nope_nope';"
            " document.getElementById('og-key-use').click(); })()"
        )
        assert (await page.wait_request(_introspection("og_nope_nope"))).status == 401
        await page.wait_for("document.getElementById('og-key-status').textContent.includes('refused')")

        # a reload keeps the stored key and fetches the schema with it at once
        await page.evaluate(f"localStorage.setItem('opportunity-gateway:api-key', {json.dumps(key)})")
        since = len(page.requests)
        await page.send("Page.reload")
        assert (await page.wait_request(_introspection(key), since=since)).status == 200
        assert await page.evaluate("document.getElementById('og-key').value") == key

        _assert_offline(page)


async def test_serve_demo_prefills_its_key_in_graphiql(engine: AsyncEngine, database_url: str) -> None:
    executable = _browser()
    key, _ = await _seed_for_browser(engine)
    async with (
        uvicorn_serving(database_url, OG_GRAPHIQL_DEMO_KEY=key) as base,
        chromium(executable) as new_page,
    ):
        page = await new_page()
        await page.goto(f"{base}/graphql")
        # nothing typed: the very first schema request carries the demo key
        first = await page.wait_request(lambda r: r.method == "POST")
        assert _introspection(key)(first) and first.status == 200
        assert await page.evaluate("document.getElementById('og-key').value") == key
        _assert_offline(page)


LIVE_BOARD = "subscription Live { opportunityChanged { kind opportunityId opportunity { title } changes { field newValue } } }"


async def test_graphiql_runs_a_subscription_over_graphql_transport_ws(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    executable = _browser()
    key, _ = await _seed_for_browser(engine)
    writer = await make_tenant(engine, DEMO_ORG, Role.EDITOR, email="writer@acme-demo.example")
    async with (
        uvicorn_serving(database_url) as base,
        chromium(executable) as new_page,
        httpx.AsyncClient(base_url=base) as http,
    ):
        found = await http.post(
            "/graphql",
            json={"query": "{ opportunities(first: 1, filter: {isPrivate: false}) { nodes { id title } } }"},
            headers={"Authorization": f"Bearer {key}"},
        )
        [deal] = found.json()["data"]["opportunities"]["nodes"]
        page = await new_page()
        await page.goto(f"{base}/graphql")
        await page.evaluate(
            f"localStorage.setItem('opportunity-gateway:api-key', {json.dumps(key)});"
            " localStorage.setItem('opportunity-gateway:api-key-source', 'user')"
        )
        await page.send("Page.reload")
        await page.wait_for("document.querySelector('.graphiql-execute-button') !== null")
        await page.evaluate(
            "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
            f".setValue({json.dumps(LIVE_BOARD)})"
        )
        # GraphiQL names the operation from a debounced parse of the editor: run once it has
        await page.wait_for(
            "(JSON.parse(localStorage.getItem('graphiql:tabState')) || {tabs: []}).tabs"
            ".some(t => (t.query || '').includes('subscription Live'))"
        )
        await page.evaluate("document.querySelector('.graphiql-execute-button').click()")
        move = "mutation ($id: ID!, $t: String!) { updateOpportunity(id: $id, input: {title: $t}) { errors { code } } }"
        shown = (
            "(() => { const cm = document.querySelector('.result-window .CodeMirror');"
            " return cm && cm.CodeMirror.getValue().includes('Live from another tab'); })()"
        )
        for attempt in range(40):  # until the subscription is up: each change is a new title
            title = f"Live from another tab {attempt}"
            done = await http.post(
                "/graphql",
                json={"query": move, "variables": {"id": deal["id"], "t": title}},
                headers={"Authorization": f"Bearer {writer.key}"},
            )
            assert done.json()["data"]["updateOpportunity"]["errors"] == []
            if await page.evaluate(shown):
                break
            await asyncio.sleep(0.25)
        body = await _result(page)
        change = body["data"]["opportunityChanged"]
        assert (change["kind"], change["opportunityId"]) == ("UPDATED", deal["id"])
        assert change["opportunity"]["title"].startswith("Live from another tab")
        assert change["changes"][0]["field"] == "title"
        await page.screenshot(tmp_path / "graphiql-subscription.png")
        _assert_offline(page)
