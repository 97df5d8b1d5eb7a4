"""Apideck's unified CRM opportunity: `{"data": [ … ]}`, camelCase, enum values as its docs write them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.interop.records import (
    Record,
    day,
    decimal,
    integer,
    iso,
    moment,
    ref,
    ref_id,
    ref_name,
    title_case,
    upper,
)

STATUS = {"OPEN": "Open", "WON": "Won", "LOST": "Lost"}
STATUS_BACK = {v.upper(): k for k, v in STATUS.items()}


class Apideck:
    name: str = "apideck"
    list_key: str = "data"
    side_key: str | None = None

    def read(self, item: Mapping[str, Any], side: Mapping[tuple[str, str], Any]) -> Record:
        status = STATUS_BACK.get(str(item.get("status") or "Open").upper(), "OPEN")
        reason = (
            ref(item.get("lossReasonId"), item.get("lossReason"), kind="LOST") if status == "LOST" else None
        )
        if status == "WON":
            reason = ref(item.get("wonReasonId"), item.get("wonReason"), kind="WON")
        stage = ref(item.get("pipelineStageId"), None, type=status)
        if stage is not None:
            stage["pipeline"] = ref(item.get("pipelineId"))
        rec: Record = {
            "id": None if item.get("id") is None else str(item["id"]),
            "title": item.get("title"),
            "description": item.get("description"),
            "type": ref(None, item.get("type")),
            "amount": decimal(item.get("monetaryAmount"), "monetaryAmount"),
            "currency": item.get("currency"),
            "probability": integer(item.get("winProbability"), "winProbability"),
            "expected_revenue": decimal(item.get("expectedRevenue"), "expectedRevenue"),
            "close_reason": reason,
            "stage": stage,
            "lead": ref(
                item.get("leadId"), None, created_at=moment(item.get("dateLeadCreated"), "dateLeadCreated")
            ),
            "lead_source": upper(item.get("leadSource")),
            "contact": ref(item.get("primaryContactId") or item.get("contactId")),
            "contacts": [r for r in (ref(c) for c in item.get("contactIds") or []) if r is not None],
            "customer": ref(item.get("companyId"), item.get("companyName")),
            "owner": ref(item.get("ownerId")),
            "priority": upper(item.get("priority")),
            "tags": [str(t) for t in item.get("tags") or []],
            "interaction_count": integer(item.get("interactionCount"), "interactionCount") or 0,
            "custom_fields": [
                {
                    "definition": ref(c.get("id"), c.get("name")),
                    "value": None if c.get("value") is None else str(c["value"]),
                }
                for c in item.get("customFields") or []
            ],
            "last_activity_at": moment(item.get("lastActivityAt"), "lastActivityAt"),
            "last_contacted_at": moment(item.get("dateLastContacted"), "dateLastContacted"),
        }
        if status != "OPEN":
            rec["closed_at"] = moment(item.get("closeDate"), "closeDate")
        return rec

    def write(self, rec: Record) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        reason, status = rec.get("close_reason"), rec["status"]
        lost = reason if reason is not None and status == "LOST" else None
        won = reason if reason is not None and status == "WON" else None
        closed = rec.get("closed_at")
        item = {
            "id": rec["id"],
            "title": rec["title"],
            "primaryContactId": ref_id(rec.get("contact")),
            "description": rec.get("description"),
            "type": ref_name(rec.get("type")),
            "monetaryAmount": rec.get("amount"),
            "currency": rec.get("currency"),
            "winProbability": rec.get("probability"),
            "expectedRevenue": rec.get("expected_revenue"),
            "closeDate": None if closed is None or status == "OPEN" else iso(day(closed)),
            "lossReasonId": ref_id(lost),
            "lossReason": ref_name(lost),
            "wonReasonId": ref_id(won),
            "wonReason": ref_name(won),
            "pipelineId": ref_id(rec.get("pipeline")),
            "pipelineStageId": ref_id(rec.get("stage")),
            "sourceId": None if rec.get("lead_source") is None else rec["lead_source"].lower(),
            "leadId": ref_id(rec.get("lead")),
            "leadSource": title_case(rec.get("lead_source")),
            "contactId": ref_id(rec.get("contact")),
            "contactIds": [ref_id(c) for c in rec.get("contacts") or []],
            "companyId": ref_id(rec.get("customer")),
            "companyName": ref_name(rec.get("customer")),
            "ownerId": ref_id(rec.get("owner")),
            "priority": title_case(rec.get("priority")),
            "status": STATUS[status],
            "statusId": status.lower(),
            "tags": list(rec.get("tags") or []),
            "interactionCount": rec.get("interaction_count"),
            "customFields": [
                {"id": ref_id(c["definition"]), "name": ref_name(c["definition"]), "value": c.get("value")}
                for c in rec.get("custom_fields") or []
            ],
            "stageLastChangedAt": iso(rec.get("stage_changed_at")),
            "lastActivityAt": iso(rec.get("last_activity_at")),
            "deleted": False,
            "dateStageChanged": iso(rec.get("stage_changed_at")),
            "dateLastContacted": iso(rec.get("last_contacted_at")),
            "dateLeadCreated": iso((rec.get("lead") or {}).get("created_at")),
            "updatedBy": ref_id(rec.get("updated_by")),
            "createdBy": ref_id(rec.get("created_by")),
            "updatedAt": iso(rec.get("updated_at")),
            "createdAt": iso(rec.get("created_at")),
        }
        return item, []

    def side_index(self, resource: Mapping[str, Any]) -> tuple[str, str]:
        raise NotImplementedError

    def envelope(self, total: int) -> dict[str, Any]:
        return {}


FORMAT = Apideck()
