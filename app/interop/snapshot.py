"""Deals as canonical records, read in batches: the export's source, and the import's "before".

One statement per table per batch. A related record's `id` in a record is its external id
for the format being written when it has one, else its global id, so a file exported after
an import names every record as the imported file did.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import models
from app.crud.base import cols
from app.ids import to_global_id
from app.interop import keys
from app.interop.records import LINKS, LIST_LINKS, Record, Ref
from app.money import product, weighted

m: Any = models  # the tables' columns, untyped: SQLModel types them as their values

MODELS: dict[str, Any] = {
    "Customer": m.Customer,
    "Contact": m.Contact,
    "User": m.User,
    "Pipeline": m.Pipeline,
    "Stage": m.Stage,
    "CloseReason": m.CloseReason,
    "Lead": m.Lead,
    "Channel": m.Channel,
    "OpportunityType": m.OpportunityType,
    "CustomFieldDefinition": m.CustomFieldDefinition,
}
# The attributes a reference carries, per kind (name first).
ATTRS: dict[str, tuple[str, ...]] = {
    "Customer": (
        "name",
        "website",
        "industry",
        "market_segment",
        "territory",
        "customer_group",
        "number_of_employees",
        "annual_revenue",
        "phone",
        "street",
        "city",
        "state",
        "postal_code",
        "country",
    ),
    "Contact": (
        "display_name",
        "first_name",
        "last_name",
        "email",
        "phone",
        "mobile",
        "whatsapp",
        "job_title",
        "is_company",
        "avatar_url",
    ),
    "User": ("email", "display_name", "title", "avatar_url", "profile_url"),
    "Pipeline": ("name", "currency"),
    "Stage": ("name", "type", "probability", "position", "color", "description"),
    "CloseReason": ("name", "kind"),
    "Lead": ("name", "source", "status", "created_at"),
    "Channel": ("name", "type", "is_active"),
    "OpportunityType": ("name",),
    "CustomFieldDefinition": ("label", "field_type", "position", "mask", "options", "is_required"),
}
SCALARS = (
    "title", "description", "status", "position", "amount", "currency", "bid_type", "per_period_value",
    "probability", "conversion_rate", "expected_close_date", "closed_at", "lead_source", "priority",
    "is_private", "interaction_count", "utm_source", "utm_medium", "utm_campaign", "utm_content",
    "created_at", "updated_at", "stage_changed_at", "last_activity_at", "last_contacted_at", "version",
)  # fmt: skip


class Related:
    """Related rows of one batch, by kind and primary key, as references."""

    def __init__(self, session: AsyncSession, source: str) -> None:
        self.session, self.source = session, source
        self.wanted: dict[str, set[int]] = defaultdict(set)
        self.refs: dict[tuple[str, int], Ref] = {}

    def want(self, kind: str, pk: int | None) -> None:
        if pk is not None:
            self.wanted[kind].add(pk)

    async def load(self) -> None:
        # stages first: they name pipelines, which then load with the rest
        for kind in ["Stage", *[k for k in self.wanted if k != "Stage"]]:
            if kind == "Pipeline" or not self.wanted.get(kind):
                continue
            await self._load(kind)
        if self.wanted.get("Pipeline"):
            await self._load("Pipeline")
        for (kind, _), r in self.refs.items():
            if kind == "Stage":
                r["pipeline"] = self.refs.get(("Pipeline", r.pop("_pipeline_id")))

    async def _load(self, kind: str) -> None:
        model, pks = MODELS[kind], sorted(self.wanted[kind])
        ext = await keys.of_rows(self.session, kind, self.source, pks)
        for at in range(0, len(pks), keys.CHUNK):
            rows = await self.session.execute(
                select(*cols(model)).where(model.id.in_(pks[at : at + keys.CHUNK]))
            )
            for row in rows:
                values = row._mapping
                r: Ref = {"id": ext.get(row.id, to_global_id(kind, row.id))}
                r["name"] = values["label" if kind == "CustomFieldDefinition" else ATTRS[kind][0]]
                r.update({a: values[a] for a in ATTRS[kind][1:] if values[a] is not None})
                if kind == "User":
                    r["name"] = r["email"] = values["email"]
                if kind == "Stage":
                    r["_pipeline_id"] = values["pipeline_id"]
                    self.wanted["Pipeline"].add(values["pipeline_id"])
                self.refs[(kind, row.id)] = r

    def get(self, kind: str, pk: int | None) -> Ref | None:
        return None if pk is None else self.refs.get((kind, pk))


async def records(session: AsyncSession, source: str, ids: Sequence[int]) -> dict[int, Record]:
    """The canonical records of the given visible deals, by deal id (invisible ones are left out)."""
    if not ids:
        return {}
    O = m.Opportunity  # noqa: E741
    deals = [r._mapping for r in await session.execute(select(*cols(O)).where(O.id.in_(list(ids))))]
    found = [d["id"] for d in deals]
    related = Related(session, source)
    for d in deals:
        for field, kind in LINKS.items():
            related.want(kind, d[f"{field}_id"])
        related.want("User", d["created_by_id"])
        related.want("User", d["updated_by_id"])
    links = await _lists(session, found)
    for kind, _, pk in links["refs"]:
        related.want(kind, pk)
    for _, definition, _ in links["custom"]:
        related.want("CustomFieldDefinition", definition)
    await related.load()
    own = await keys.of_rows(session, keys.DEAL, source, found)
    out: dict[int, Record] = {}
    for d in deals:
        rec: Record = {"id": own.get(d["id"], to_global_id("Opportunity", d["id"]))}
        rec.update({k: d[k] for k in SCALARS})
        rec["expected_revenue"] = (
            d["expected_revenue"]
            if d["expected_revenue"] is not None
            else weighted(d["amount"], d["probability"])
        )
        rec["base_amount"] = (
            None
            if d["amount"] is None or d["conversion_rate"] is None
            else product(d["amount"], d["conversion_rate"])
        )
        for field, kind in LINKS.items():
            rec[field] = related.get(kind, d[f"{field}_id"])
        rec["pipeline"] = None if rec["stage"] is None else rec["stage"].get("pipeline")
        rec["created_by"] = related.get("User", d["created_by_id"])
        rec["updated_by"] = related.get("User", d["updated_by_id"])
        for field in LIST_LINKS:
            rec[field] = []
        rec["tags"], rec["custom_fields"], rec["items"] = [], [], []
        out[d["id"]] = rec
    for kind, deal, pk in links["refs"]:
        field = {"Contact": "contacts", "CloseReason": "lost_reasons", "User": "access_list"}[kind]
        out[deal][field].append(related.get(kind, pk))
    for deal, tag in links["tags"]:
        out[deal]["tags"].append(tag)
    for deal, definition, value in links["custom"]:
        out[deal]["custom_fields"].append(
            {"definition": related.get("CustomFieldDefinition", definition), "value": value}
        )
    for deal, item in links["items"]:
        out[deal]["items"].append(item)
    for rec in out.values():
        # a set: in a stable order every organization agrees on (user ids are each one's own)
        rec["access_list"].sort(key=lambda r: r["id"])
        # by label, not position: positions are each organization's own
        rec["custom_fields"].sort(key=lambda c: (c["definition"]["name"], c["definition"]["id"]))
        rec["items_total"] = sum((i["amount"] for i in rec["items"]), start=type(rec["amount"] or 0)(0))
    return out


async def _lists(session: AsyncSession, ids: list[int]) -> dict[str, list[Any]]:
    """Every list hanging off the deals, in each list's order."""
    C, L, A = m.OpportunityContact, m.OpportunityLostReason, m.OpportunityAccess
    T, V, I = m.OpportunityTag, m.CustomFieldValue, m.OpportunityItem  # noqa: E741
    refs: list[tuple[str, int, int]] = []
    for kind, model, target, order in (
        ("Contact", C, C.contact_id, C.position),
        ("CloseReason", L, L.close_reason_id, L.position),
        ("User", A, A.user_id, A.user_id),
    ):
        stmt = select(model.opportunity_id, target).where(model.opportunity_id.in_(ids))
        refs += [
            (kind, r[0], r[1]) for r in await session.execute(stmt.order_by(model.opportunity_id, order))
        ]
    tags = [
        (r[0], r[1])
        for r in await session.execute(
            select(T.opportunity_id, T.tag)
            .where(T.opportunity_id.in_(ids))
            .order_by(T.opportunity_id, T.position)
        )
    ]
    custom = [
        (r[0], r[1], r[2])
        for r in await session.execute(
            select(V.opportunity_id, V.definition_id, V.value).where(V.opportunity_id.in_(ids))
        )
    ]
    items = []
    for r in await session.execute(
        select(*cols(I)).where(I.opportunity_id.in_(ids)).order_by(I.opportunity_id, I.position)
    ):
        row = dict(r._mapping)
        row["amount"] = product(row["quantity"], row["rate"])
        row["base_amount"] = None if row["base_rate"] is None else product(row["quantity"], row["base_rate"])
        items.append((row["opportunity_id"], row))
    return {"refs": refs, "tags": tags, "custom": custom, "items": items}
