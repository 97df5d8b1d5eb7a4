"""Overplane (ERPNext-style): `{"data": [ … ], "has_more", "total"}`, each deal with `items[]` and
`lost_reasons[]` (its Opportunity Item and Opportunity Lost Reason Detail child tables)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.interop.records import Record, day, decimal, integer, iso, ref, ref_name

STATUS = {"OPEN": "Open", "WON": "Converted", "LOST": "Lost"}
STATUS_BACK = {v: k for k, v in STATUS.items()}
CUSTOMER = (
    "territory",
    "customer_group",
    "industry",
    "market_segment",
    "website",
    "city",
    "state",
    "country",
    "phone",
)
ITEM_TEXT = {"item_code": "item_code", "item_group": "item_group", "brand": "brand", "uom": "uom",
             "item_name": "item_name", "description": "description", "image_url": "image"}  # fmt: skip


class Overplane:
    name: str = "overplane"
    list_key: str = "data"
    side_key: str | None = None

    def read(self, item: Mapping[str, Any], side: Mapping[tuple[str, str], Any]) -> Record:
        status = STATUS_BACK.get(str(item.get("status") or "Open"), "OPEN")
        customer = ref(
            None,
            item.get("party_name") or item.get("customer_name"),
            annual_revenue=decimal(item.get("annual_revenue"), "annual_revenue"),
            number_of_employees=integer(item.get("no_of_employees"), "no_of_employees"),
            **{k: item.get(k) for k in CUSTOMER},
        )
        contact = ref(
            None,
            item.get("contact_person") or item.get("contact_display"),
            email=item.get("contact_email"),
            mobile=item.get("contact_mobile"),
            whatsapp=item.get("whatsapp"),
            job_title=item.get("job_title"),
        )
        lost = item.get("order_lost_reason")
        rec: Record = {
            "id": None if item.get("id") is None else str(item["id"]),
            "title": item.get("title"),
            "lead": ref(None, item.get("opportunity_from")),
            "customer": customer,
            "type": ref(None, item.get("opportunity_type")),
            "close_reason": ref(None, lost, kind="LOST") if status == "LOST" else None,
            "expected_close_date": day(item.get("expected_closing"), "expected_closing"),
            "currency": item.get("currency"),
            "amount": decimal(item.get("opportunity_amount"), "opportunity_amount"),
            "stage": ref(None, item.get("sales_stage"), type=status),
            "probability": integer(item.get("probability"), "probability"),
            "contact": contact,
            "conversion_rate": decimal(item.get("conversion_rate"), "conversion_rate"),
            "owner": ref(None, item.get("opportunity_owner")),
            "utm_source": item.get("utm_source"),
            "utm_medium": item.get("utm_medium"),
            "utm_campaign": item.get("utm_campaign"),
            "utm_content": item.get("utm_content"),
            "items": [
                self._item(i)
                for i in sorted(item.get("items") or [], key=lambda i: integer(i.get("idx"), "idx") or 0)
            ],
            "lost_reasons": [
                r
                for r in (
                    ref(None, d.get("lost_reason"), kind="LOST")
                    for d in sorted(
                        item.get("lost_reasons") or [], key=lambda d: integer(d.get("idx"), "idx") or 0
                    )
                )
                if r is not None
            ],
        }
        return rec

    @staticmethod
    def _item(i: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {k: i.get(v) for k, v in ITEM_TEXT.items()}
        out["quantity"] = decimal(i.get("qty"), "qty")
        out["rate"] = decimal(i.get("rate"), "rate")
        out["base_rate"] = decimal(i.get("base_rate"), "base_rate")
        return {k: v for k, v in out.items() if v is not None or k in ("base_rate",)}

    def write(self, rec: Record) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        customer, contact = rec.get("customer") or {}, rec.get("contact") or {}
        status = rec["status"]
        items = rec.get("items") or []
        base = [i["base_amount"] for i in items if i.get("base_amount") is not None]
        item: dict[str, Any] = {
            "id": rec["id"],
            "created_at": iso(rec.get("created_at")),
            "updated_at": iso(rec.get("updated_at")),
            "opportunity_from": ref_name(rec.get("lead")),
            "party_name": customer.get("name"),
            "customer_name": customer.get("name"),
            "title": rec["title"],
            "opportunity_type": ref_name(rec.get("type")),
            "status": STATUS[status],
            "order_lost_reason": ref_name(rec.get("close_reason")) if status == "LOST" else None,
            "expected_closing": iso(rec.get("expected_close_date")),
            "currency": rec.get("currency"),
            "opportunity_amount": rec.get("amount"),
            "sales_stage": ref_name(rec.get("stage")),
            "probability": rec.get("probability"),
            **{k: customer.get(k) for k in CUSTOMER},
            "annual_revenue": customer.get("annual_revenue"),
            "no_of_employees": None
            if customer.get("number_of_employees") is None
            else str(customer["number_of_employees"]),
            "contact_person": contact.get("name"),
            "contact_display": contact.get("name"),
            "contact_email": contact.get("email"),
            "contact_mobile": contact.get("mobile"),
            "whatsapp": contact.get("whatsapp"),
            "job_title": contact.get("job_title"),
            "base_opportunity_amount": rec.get("base_amount"),
            "conversion_rate": rec.get("conversion_rate"),
            "total": rec.get("items_total"),
            "base_total": sum(base[1:], base[0]) if base else None,
            "opportunity_owner": ref_name(rec.get("owner")),
            "utm_source": rec.get("utm_source"),
            "utm_medium": rec.get("utm_medium"),
            "utm_campaign": rec.get("utm_campaign"),
            "utm_content": rec.get("utm_content"),
            "items": [
                {
                    "idx": i["position"],
                    "opportunity_id": rec["id"],
                    **{v: i.get(k) for k, v in ITEM_TEXT.items()},
                    "qty": i["quantity"],
                    "rate": i["rate"],
                    "amount": i["amount"],
                    "base_rate": i.get("base_rate"),
                    "base_amount": i.get("base_amount"),
                }
                for i in items
            ],
            "lost_reasons": [
                {"idx": n, "opportunity_id": rec["id"], "lost_reason": ref_name(r)}
                for n, r in enumerate(rec.get("lost_reasons") or [], 1)
            ],
        }
        return item, []

    def side_index(self, resource: Mapping[str, Any]) -> tuple[str, str]:
        raise NotImplementedError

    def envelope(self, total: int) -> dict[str, Any]:
        return {"has_more": False, "total": total}


FORMAT = Overplane()
