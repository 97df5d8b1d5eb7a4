"""ONLYOFFICE CRM opportunities: `{"response": [ … ]}`, PascalCase, integer enums, ISO 8601 dates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.interop.records import BadValue, Record, day, decimal, integer, iso, moment, ref

BID_TYPES = ["FIXED", "PER_HOUR", "PER_DAY", "PER_WEEK", "PER_MONTH", "PER_YEAR"]  # 0 FixedBid … 5 PerYear
STAGE_TYPES = ["OPEN", "WON", "LOST"]  # 0 Open, 1 ClosedAndWon, 2 ClosedAndLost
FIELD_TYPES = ["TEXT_FIELD", "TEXT_AREA", "SELECT_BOX", "CHECK_BOX", "HEADING", "DATE"]


def _enum(values: list[str], number: Any, default: str, prop: str) -> str:
    n = integer(number, prop)
    if n is None:
        return default
    if not 0 <= n < len(values):
        raise BadValue(prop, f"{number!r} is not one of 0–{len(values) - 1}", number)
    return values[n]


def _user(r: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "Id": r["id"],
        "DisplayName": r.get("display_name"),
        "Title": r.get("title"),
        "AvatarSmall": r.get("avatar_url"),
        "ProfileUrl": r.get("profile_url"),
    }


def _user_ref(u: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not u:
        return None
    return ref(
        u.get("Id"),
        None,
        display_name=u.get("DisplayName"),
        title=u.get("Title"),
        avatar_url=u.get("AvatarSmall"),
        profile_url=u.get("ProfileUrl"),
    )


def _contact(r: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "ID": r["id"],
        "DisplayName": r.get("name"),
        "IsCompany": bool(r.get("is_company", False)),
        "SmallFotoUrl": r.get("avatar_url"),
        "MediumFotoUrl": r.get("avatar_url"),
    }


def _contact_ref(c: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not c:
        return None
    return ref(
        c.get("ID"),
        c.get("DisplayName"),
        is_company=bool(c.get("IsCompany")),
        avatar_url=c.get("SmallFotoUrl"),
    )


class OnlyOffice:
    name: str = "onlyoffice"
    list_key: str = "response"
    side_key: str | None = None

    def read(self, item: Mapping[str, Any], side: Mapping[tuple[str, str], Any]) -> Record:
        s = item.get("Stage") or None
        stage = None
        if s:
            stage = ref(
                s.get("ID"),
                s.get("Title"),
                description=s.get("Description"),
                color=s.get("Color"),
                probability=integer(s.get("SuccessProbability"), "SuccessProbability"),
                type=_enum(STAGE_TYPES, s.get("StageType"), "OPEN", "Stage.StageType"),
                # a place the target organization may number its own way: used when the import
                # creates the stage, never a difference that makes the deal "changed"
                _position=integer(s.get("SortOrder"), "Stage.SortOrder"),
            )
        currency = (item.get("BidCurrency") or {}).get("Abbreviation")
        rec: Record = {
            "id": None if item.get("ID") is None else str(item["ID"]),
            "title": item.get("Title"),
            "description": item.get("Description"),
            "owner": _user_ref(item.get("Responsible")),
            "bid_type": _enum(BID_TYPES, item.get("BidType"), "FIXED", "BidType"),
            "amount": decimal(item.get("BidValue"), "BidValue"),
            "currency": currency,
            "per_period_value": integer(item.get("PerPeriodValue"), "PerPeriodValue"),
            "stage": stage,
            "probability": integer(item.get("SuccessProbability"), "SuccessProbability"),
            "expected_close_date": day(item.get("ExpectedCloseDate"), "ExpectedCloseDate"),
            "is_private": bool(item.get("IsPrivate")),
            "access_list": [r for r in (_user_ref(u) for u in item.get("AccessList") or []) if r is not None],
            "custom_fields": [
                {
                    "definition": ref(
                        f.get("ID"),
                        f.get("Label"),
                        field_type=_enum(
                            FIELD_TYPES, f.get("FieldType"), "TEXT_FIELD", "CustomFields.FieldType"
                        ),
                        mask=f.get("Mask") or None,
                        _position=integer(f.get("Position"), "CustomFields.Position"),
                    ),
                    "value": f.get("FieldValue"),
                }
                for f in item.get("CustomFields") or []
            ],
            "contact": _contact_ref(item.get("Contact")),
            "contacts": [r for r in (_contact_ref(c) for c in item.get("Members") or []) if r is not None],
        }
        if stage is not None and stage.get("type") != "OPEN":
            rec["closed_at"] = moment(item.get("ActualCloseDate"), "ActualCloseDate")
        return rec

    def write(self, rec: Record) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        s = rec.get("stage")
        item = {
            "ID": rec["id"],
            "Title": rec["title"],
            "Description": rec.get("description"),
            "Responsible": _user(rec.get("owner")),
            "BidType": BID_TYPES.index(rec.get("bid_type") or "FIXED"),
            "BidValue": rec.get("amount"),
            "BidCurrency": None if rec.get("currency") is None else {"Abbreviation": rec["currency"]},
            "PerPeriodValue": rec.get("per_period_value"),
            "Stage": None
            if s is None
            else {
                "ID": s["id"],
                "Title": s.get("name"),
                "Description": s.get("description"),
                "Color": s.get("color"),
                "SortOrder": s.get("position"),
                "SuccessProbability": s.get("probability"),
                "StageType": STAGE_TYPES.index(s.get("type", "OPEN")),
            },
            "SuccessProbability": rec.get("probability"),
            "ActualCloseDate": iso(rec.get("closed_at")),
            "ExpectedCloseDate": iso(rec.get("expected_close_date")),
            "IsPrivate": bool(rec.get("is_private")),
            "AccessList": [_user(u) for u in rec.get("access_list") or []],
            "CanEdit": True,
            "CustomFields": [
                {
                    "EntityId": rec["id"],
                    "Label": c["definition"].get("name"),
                    "FieldValue": c.get("value"),
                    "FieldType": FIELD_TYPES.index(c["definition"].get("field_type", "TEXT_FIELD")),
                    "Position": c["definition"].get("position"),
                    "Mask": c["definition"].get("mask"),
                    "ID": c["definition"]["id"],
                }
                for c in rec.get("custom_fields") or []
            ],
            "Contact": _contact(rec.get("contact")),
            "Members": [_contact(c) for c in rec.get("contacts") or []],
            "CreateBy": _user(rec.get("created_by")),
            "Created": iso(rec.get("created_at")),
        }
        return item, []

    def side_index(self, resource: Mapping[str, Any]) -> tuple[str, str]:
        raise NotImplementedError

    def envelope(self, total: int) -> dict[str, Any]:
        return {}


FORMAT = OnlyOffice()
