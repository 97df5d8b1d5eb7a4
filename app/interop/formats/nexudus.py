"""Nexudus CRM: `{"Records": [CrmOpportunity …], "TotalItems"}`, PascalCase, enumerations by name.

A Nexudus opportunity has no title: the import takes the first line of `Notes` (else
"Nexudus opportunity <Id>"), and `Notes` is the description.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.interop.records import (
    BadValue,
    Record,
    day,
    decimal,
    integer,
    iso,
    moment,
    pascal,
    ref,
    ref_id,
    ref_name,
    upper,
)

STATUS = {"OPEN": "InProgress", "WON": "Won", "LOST": "Lost"}  # eCrmOpportunityStatus
STATUS_BACK = {v: k for k, v in STATUS.items()}
SOURCES = ["Website", "Referral", "Email", "Phone", "Event", "Partner", "Advertising", "Social", "Other"]
LOSS_REASONS = [
    "Price",
    "Competitor",
    "NoBudget",
    "Timing",
    "NoDecision",
    "Features",
    "Other",
]  # eCrmOpportunityLossReason


def _loss_reason(name: str | None) -> str | None:
    """A close reason's name as the nearest eCrmOpportunityLossReason (Other when none is)."""
    if name is None:
        return None
    key = pascal(upper(name) or "")
    return key if key in LOSS_REASONS else "Other"


def _person(r: Mapping[str, Any] | None, name: str = "name") -> dict[str, Any] | None:
    if r is None:
        return None
    return {"Id": r["id"], "FullName": r.get(name), "Email": r.get("email")}


def _named(r: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if r is None else {"Id": r["id"], "Name": r.get("name")}


class Nexudus:
    name: str = "nexudus"
    list_key: str = "Records"
    side_key: str | None = None

    def read(self, item: Mapping[str, Any], side: Mapping[tuple[str, str], Any]) -> Record:
        raw_status = item.get("Status") or "InProgress"
        if raw_status not in STATUS_BACK:
            raise BadValue("Status", f"{raw_status!r} is not one of {', '.join(STATUS_BACK)}", raw_status)
        status = STATUS_BACK[raw_status]
        column = item.get("CrmBoardColumn") or None
        stage, currency = None, None
        if column:
            board = column.get("CrmBoard") or {}
            stage = ref(column.get("Id"), column.get("Name"), type=status)
            if stage is not None:
                stage["pipeline"] = ref(board.get("Id"), board.get("Name"))
            currency = (((board.get("Business") or {}).get("Currency")) or {}).get("Code")
        notes = item.get("Notes")
        first = (notes or "").strip().splitlines()[0].strip() if (notes or "").strip() else ""
        source = item.get("LeadSource")
        if source is not None and source not in SOURCES:
            raise BadValue("LeadSource", f"{source!r} is not one of {', '.join(SOURCES)}", source)
        loss = item.get("LossReason")
        if loss is not None and loss not in LOSS_REASONS:
            raise BadValue("LossReason", f"{loss!r} is not one of {', '.join(LOSS_REASONS)}", loss)
        responsible = item.get("Responsible") or None
        rec: Record = {
            "id": None if item.get("Id") is None else str(item["Id"]),
            "title": first[:255] or f"Nexudus opportunity {item.get('Id')}",
            "description": notes,
            "stage": stage,
            "contact": self._person_ref(item.get("Coworker")),
            "customer": self._named_ref(item.get("Team")),
            "type": self._named_ref(item.get("OpportunityType")),
            "owner": None
            if not responsible
            else ref(
                responsible.get("Id"), responsible.get("Email"), display_name=responsible.get("FullName")
            ),
            "referrer": self._person_ref(item.get("Referrer")),
            "agent": self._person_ref(item.get("Agent")),
            "expected_close_date": day(item.get("DueDate"), "DueDate"),
            "amount": decimal(item.get("Value"), "Value"),
            "lead_source": upper(source),
            "close_reason": ref(None, loss, kind="LOST") if status == "LOST" and loss else None,
        }
        if item.get("Position") is not None:  # else the deal goes last in its column
            rec["position"] = integer(item.get("Position"), "Position")
        if currency is not None:
            rec["currency"] = currency
        if status != "OPEN":
            rec["closed_at"] = moment(item.get("WonOn") if status == "WON" else item.get("LostOn"))
        return rec

    @staticmethod
    def _person_ref(p: Mapping[str, Any] | None) -> dict[str, Any] | None:
        return None if not p else ref(p.get("Id"), p.get("FullName"), email=p.get("Email"))

    @staticmethod
    def _named_ref(p: Mapping[str, Any] | None) -> dict[str, Any] | None:
        return None if not p else ref(p.get("Id"), p.get("Name"))

    def write(self, rec: Record) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        status, stage = rec["status"], rec.get("stage")
        title, description = rec["title"], rec.get("description")
        lines = (description or "").strip().splitlines()
        if lines and lines[0].strip() == title:
            notes = description
        elif description is None and title == f"Nexudus opportunity {rec['id']}":
            notes = None  # the title an import gives a record without notes
        else:
            notes = "\n".join(p for p in (title, description) if p)
        pipeline = rec.get("pipeline")
        owner = rec.get("owner")
        item = {
            "Id": rec["id"],
            "CrmBoardColumn": None
            if stage is None
            else {
                "Id": stage["id"],
                "Name": stage.get("name"),
                "CrmBoard": {
                    "Id": ref_id(pipeline),
                    "Name": ref_name(pipeline),
                    "Business": {"Currency": {"Code": rec.get("currency")}},
                },
            },
            "Coworker": _person(rec.get("contact")),
            "Team": _named(rec.get("customer")),
            "OpportunityType": _named(rec.get("type")),
            "Responsible": None
            if owner is None
            else {"Id": owner["id"], "FullName": owner.get("display_name"), "Email": owner.get("email")},
            "Referrer": _person(rec.get("referrer")),
            "Agent": _person(rec.get("agent")),
            "Notes": notes,
            "Completed": status != "OPEN",
            "DueDate": iso(rec.get("expected_close_date")),
            "Value": rec.get("amount"),
            "LeadSource": None if rec.get("lead_source") is None else pascal(rec["lead_source"]),
            "LossReason": _loss_reason(ref_name(rec.get("close_reason"))) if status == "LOST" else None,
            "Status": STATUS[status],
            "WonOn": iso(rec.get("closed_at")) if status == "WON" else None,
            "LostOn": iso(rec.get("closed_at")) if status == "LOST" else None,
            "Position": rec.get("position"),
            "CreatedOn": iso(rec.get("created_at")),
            "UpdatedOn": iso(rec.get("updated_at")),
        }
        return item, []

    def side_index(self, resource: Mapping[str, Any]) -> tuple[str, str]:
        raise NotImplementedError

    def envelope(self, total: int) -> dict[str, Any]:
        return {"TotalItems": total}


FORMAT = Nexudus()
