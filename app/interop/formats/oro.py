"""OroCRM's JSON:API: `data[]` of `{type: "opportunities", id, attributes, relationships}`, the
related records in `included[]` (read before the deals, wherever the file puts them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.interop.records import BadValue, Record, ref

# relationship → (JSON:API type, canonical field)
RELATIONSHIPS = {
    "customer": ("b2bcustomers", "customer"),
    "contact": ("contacts", "contact"),
    "dataChannel": ("channels", "channel"),
    "closeReason": ("opportunityclosereasons", "close_reason"),
    "lead": ("leads", "lead"),
    "owner": ("users", "owner"),
    "status": ("opportunitystatuses", "stage"),
}


def _attributes(kind: str, r: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "contacts":
        return {"firstName": r.get("first_name"), "lastName": r.get("last_name"), "name": r.get("name"),
                "primaryEmail": r.get("email")}  # fmt: skip
    if kind == "users":
        return {"email": r.get("email"), "fullName": r.get("display_name")}
    if kind == "channels":
        return {"name": r.get("name"), "channelType": r.get("type"), "active": r.get("is_active", True)}
    if kind == "opportunityclosereasons":
        return {"label": r.get("name")}
    if kind == "opportunitystatuses":
        # Oro's statuses are an enumeration with a name; `type` (open, won, lost) says what the
        # gateway's stage type is, so a won deal stays won
        return {"name": r.get("name"), "type": (r.get("type") or "OPEN").lower()}
    return {"name": r.get("name")}


def _ref(kind: str, rid: str, attrs: Mapping[str, Any], stage_type: str) -> dict[str, Any] | None:
    if kind == "contacts":
        full = " ".join(p for p in (attrs.get("firstName"), attrs.get("lastName")) if p)
        return ref(rid, attrs.get("name") or full, first_name=attrs.get("firstName"), last_name=attrs.get("lastName"),
                   email=attrs.get("primaryEmail"))  # fmt: skip
    if kind == "users":
        return ref(rid, attrs.get("email"), display_name=attrs.get("fullName"))
    if kind == "channels":
        return ref(
            rid, attrs.get("name"), type=attrs.get("channelType"), is_active=bool(attrs.get("active", True))
        )
    if kind == "opportunityclosereasons":
        return ref(rid, attrs.get("label"), kind=stage_type if stage_type in ("WON", "LOST") else "LOST")
    if kind == "opportunitystatuses":
        return ref(rid, attrs.get("name"), type=str(attrs.get("type") or "open").upper())
    return ref(rid, attrs.get("name"))


class Oro:
    name: str = "oro"
    list_key: str = "data"
    side_key: str | None = "included"

    def read(self, item: Mapping[str, Any], side: Mapping[tuple[str, str], Any]) -> Record:
        if item.get("type") not in (None, "opportunities"):
            raise BadValue("type", f"{item.get('type')!r} is not opportunities", item.get("type"))
        rels = item.get("relationships") or {}
        linked: dict[str, tuple[str, str, Mapping[str, Any]]] = {}
        for rel, (kind, _) in RELATIONSHIPS.items():
            data = (rels.get(rel) or {}).get("data")
            if data:
                rid = str(data["id"])
                linked[rel] = (
                    kind,
                    rid,
                    (side.get((data.get("type") or kind, rid)) or {}).get("attributes") or {},
                )
        status = linked.get("status")
        stage_type = str(status[2].get("type") or "open").upper() if status else "OPEN"
        rec: Record = {
            "id": None if item.get("id") is None else str(item["id"]),
            "title": (item.get("attributes") or {}).get("name"),
        }
        for rel, (kind, field) in RELATIONSHIPS.items():
            rec[field] = None if rel not in linked else _ref(kind, linked[rel][1], linked[rel][2], stage_type)
        if rec["close_reason"] is not None and stage_type == "OPEN":
            rec["close_reason"] = None  # an open deal has no close reason
        return rec

    def write(self, rec: Record) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        relationships: dict[str, Any] = {}
        included = []
        for rel, (kind, field) in RELATIONSHIPS.items():
            r = rec.get(field)
            relationships[rel] = {"data": None if r is None else {"type": kind, "id": r["id"]}}
            if r is not None:
                included.append({"type": kind, "id": r["id"], "attributes": _attributes(kind, r)})
        item = {"type": "opportunities", "id": rec["id"], "attributes": {"name": rec["title"]},
                "relationships": relationships}  # fmt: skip
        return item, included

    def side_index(self, resource: Mapping[str, Any]) -> tuple[str, str]:
        return (str(resource.get("type")), str(resource.get("id")))

    def envelope(self, total: int) -> dict[str, Any]:
        return {"meta": {"totalCount": total}}


FORMAT = Oro()
