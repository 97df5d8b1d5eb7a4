"""The files the GraphiQL page loads, served by the gateway itself: no CDN, works offline.

`static/` holds the pinned npm builds (GraphiQL, React, ReactDOM, graphql-ws) with their licenses and
MANIFEST.json, all written by scripts/refresh-graphiql; `ide.js` and `ide.css` next to this
module are ours. Only those names are served (no path from the URL reaches the file system).
A URL carries its file's sha256 as `?v=`; with the current one the answer may be cached for a
year, with any other it is revalidated (ETag), so a new release is never hidden by a cache.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
MANIFEST = STATIC / "MANIFEST.json"
OURS = ("ide.js", "ide.css")
PREFIX = "/graphiql"  # assets live at /graphiql/<name>, beside /graphql

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".LICENSE": "text/plain; charset=utf-8",
}
_YEAR = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    content_type: str
    version: str  # the first 16 hex digits of its sha256


def manifest() -> dict[str, dict[str, object]]:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


@cache
def assets() -> dict[str, Asset]:
    """Every servable file by name, read once per process."""
    names = [*manifest()["files"], *OURS]
    found: dict[str, Asset] = {}
    for name in names:
        path = STATIC / name if name not in OURS else HERE / name
        body = path.read_bytes()
        suffix = ".LICENSE" if name.endswith(".LICENSE") else path.suffix
        found[name] = Asset(name, body, _TYPES[suffix], hashlib.sha256(body).hexdigest()[:16])
    return found


@cache
def _gzipped(name: str) -> bytes:
    # compressed once, on first demand: GraphiQL's bundle goes from ~1 MB to ~300 KB
    return gzip.compress(assets()[name].body, compresslevel=9, mtime=0)


def url(root_path: str, name: str) -> str:
    """The versioned same-origin URL of one asset, for the page."""
    return f"{root_path}{PREFIX}/{name}?v={assets()[name].version}"


async def serve_asset(request: Request) -> Response:
    asset = assets().get(request.path_params["name"])
    if asset is None:  # the app's 404 handler answers it as JSON with the NOT_FOUND code
        raise HTTPException(404, "No such GraphiQL asset.")
    etag = f'"{asset.version}"'
    headers = {
        "ETag": etag,
        "Cache-Control": _YEAR if request.query_params.get("v") == asset.version else "no-cache",
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if "gzip" in request.headers.get("accept-encoding", "") and len(body) > 1024:
        body = _gzipped(asset.name)
        headers["Content-Encoding"] = "gzip"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=asset.content_type)
    return Response(body, headers=headers, media_type=asset.content_type)
