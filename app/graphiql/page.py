"""The GraphiQL page `GET /graphql` answers a browser with: our own HTML, assets from this server.

The page carries its settings as JSON (the endpoint, the default documents, and in
`serve --demo` the demo key); `ide.js` reads them, asks for an API key when the browser has
none, and only then mounts GraphiQL, whose every request (the schema introspection too) sends
`Authorization: Bearer <key>`.

The demo key is written into the page only when everything about the request is this machine:
the server socket and the client are loopback addresses and the Host header names loopback
(a DNS-rebinding page on another name gets no key), and `OG_GRAPHIQL_DEMO_KEY` is set, which
the CLI does only for `serve --demo` on a loopback host.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.graphiql.assets import url
from app.graphiql.documents import default_tabs

# Everything from this origin, nothing from anywhere else. Inline styles: GraphiQL and
# CodeMirror set style attributes; fonts and icons are data: URLs inside graphiql.min.css.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

_SCRIPTS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphql-ws.min.js",  # subscriptions: graphql-transport-ws on the same /graphql
    "ide.js",
)
_STYLES = ("graphiql.min.css", "ide.css")

_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>GraphiQL · opportunity-gateway</title>
<link rel="icon" href="data:,">
{styles}
<script id="og-graphiql-config" type="application/json">{config}</script>
{scripts}
</head>
<body>
<form id="og-key-form" autocomplete="off">
  <label for="og-key">API key</label>
  <input id="og-key" name="key" type="password" placeholder="og_…" spellcheck="false" autocomplete="off">
  <button id="og-key-use" type="submit">Use key</button>
  <button id="og-key-forget" type="button">Forget</button>
  <span id="og-key-status" role="status"></span>
</form>
<main id="graphiql"><p class="og-note">Loading GraphiQL…</p></main>
<noscript><p class="og-note">GraphiQL needs JavaScript.</p></noscript>
</body>
</html>
"""


def _json_for_html(value: Any) -> str:
    # inside <script>: no "</script>", no "<!--", whatever the strings hold
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    if header.startswith("["):  # [::1]:8000
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def all_loopback(request: Request) -> bool:
    """The server socket, the client and the Host header are all this machine."""
    server = request.scope.get("server") or (None, None)
    client = request.scope.get("client") or (None, None)
    return (
        is_loopback(server[0])
        and is_loopback(client[0])
        and is_loopback(_host_name(request.headers.get("host", "")))
    )


def page_config(request: Request, demo_key: str) -> dict[str, Any]:
    return {
        "endpoint": request.url.path,
        # graphql-transport-ws on the same path (ws:// or wss:// as the page was loaded)
        "subscriptionEndpoint": request.url.path,
        "demoKey": demo_key if demo_key and all_loopback(request) else None,
        "defaultTabs": default_tabs(),
    }


def render_page(request: Request, demo_key: str = "") -> HTMLResponse:
    root = request.scope.get("root_path", "")
    html = _TEMPLATE.format(
        styles="\n".join(f'<link rel="stylesheet" href="{url(root, name)}">' for name in _STYLES),
        scripts="\n".join(f'<script src="{url(root, name)}" defer></script>' for name in _SCRIPTS),
        config=_json_for_html(page_config(request, demo_key)),
    )
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            # the page may hold the demo key: never stored by a cache
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )
