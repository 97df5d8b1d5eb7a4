"""Every GraphQL block of README.md runs as written on the demo data, as the demo key's admin.

A ```graphql block followed (after prose at most) by a ```json block takes that JSON as its
variables, as README.md says; any other block runs without variables.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from app.cli import DEMO_ADMIN, DEMO_ORGANIZATION
from app.demo import seed_demo
from app.enums import Role
from tests.support import Api, make_tenant

README = Path(__file__).resolve().parent.parent / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def readme_blocks() -> list[tuple[str, dict[str, Any]]]:
    """(document, variables) for each ```graphql block, in README order."""
    fences = [(m.group(1), m.group(2)) for m in FENCE.finditer(README.read_text(encoding="utf-8"))]
    blocks = []
    for i, (lang, body) in enumerate(fences):
        if lang == "graphql":
            follows = fences[i + 1] if i + 1 < len(fences) else ("", "")
            blocks.append((body, json.loads(follows[1]) if follows[0] == "json" else {}))
    return blocks


def payload_errors(data: Any) -> list[Any]:
    """Every mutation payload's `errors` entries, anywhere in the answer."""
    if isinstance(data, dict):
        found = list(data.get("errors") or []) if isinstance(data.get("errors"), list) else []
        return found + [e for k, v in data.items() if k != "errors" for e in payload_errors(v)]
    if isinstance(data, list):
        return [e for v in data for e in payload_errors(v)]
    return []


def lists_in(data: Any, path: str = "") -> dict[str, int]:
    """The length of every `nodes` / `edges` list, by its path."""
    out: dict[str, int] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            if k in ("nodes", "edges") and isinstance(v, list):
                out[f"{path}.{k}"] = len(v)
            out.update(lists_in(v, f"{path}.{k}"))
    return out


def test_the_readme_has_the_blocks_this_test_runs() -> None:
    blocks = readme_blocks()
    names = [re.findall(r"^(?:query|mutation) (\w+)", doc, re.M) for doc, _ in blocks]
    assert names == [["Board"], ["FirstDeal"]]
    assert blocks[0][1] == {"pipeline": "New business"}


async def test_every_readme_block_runs_on_the_demo_data(app_client: Any, engine: Any) -> None:
    await seed_demo(engine, opportunities=2000, seed=0, progress=False)  # what `serve --demo` seeds
    demo = await make_tenant(engine, DEMO_ORGANIZATION, Role.ADMIN, email=DEMO_ADMIN)
    api = Api(app_client[1], demo.key)
    for document, variables in readme_blocks():
        data = await api(document, variables)  # no GraphQL errors
        assert payload_errors(data) == [], document
        if document.startswith("query"):  # and a query shows something: every list has rows
            counts = lists_in(data)
            assert counts and 0 not in counts.values(), counts
