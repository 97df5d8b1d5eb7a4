"""The related records an import names: matched by external id, then by name, else created.

One resolver lives for a whole import. Per batch it collects every reference of every
kind, looks the external ids up in one statement per kind, matches the rest by name,
creates what is still missing through the same create code as the API (app/crud), and
records the file's id of each matched or created record as its external id, so the next
import of the same file matches by id. A reference that cannot be created (a name too
long, a bad color) is a problem of the records that name it, at their property.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from enum import Enum
from types import SimpleNamespace
from typing import Any

from sqlalchemy import case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import models
from app.crud import custom_fields, related
from app.crud.base import insert_returning_ids, principal
from app.enums import CloseReasonKind, CustomFieldType, LeadSource, StageType
from app.errors import UserErrorData
from app.ids import to_global_id
from app.interop import keys
from app.interop.records import NAME_COLUMNS, Ref
from app.interop.snapshot import ATTRS, MODELS
from app.validation import Invalid

m: Any = models  # the tables' columns, untyped: SQLModel types them as their values

# Parents before children: a stage needs its pipeline.
ORDER = ("Pipeline", "Stage", "Customer", "Contact", "User", "CloseReason", "Lead", "Channel",
         "OpportunityType", "CustomFieldDefinition")  # fmt: skip
ENUMS: dict[tuple[str, str], Any] = {
    ("Stage", "type"): StageType,
    ("CloseReason", "kind"): CloseReasonKind,
    ("Lead", "source"): LeadSource,
    ("CustomFieldDefinition", "field_type"): CustomFieldType,
}
ADDRESS = ("street", "city", "state", "postal_code", "country")
# Kinds a file may name without an id, two records under one name: what tells them apart is
# what the file says of each (two people of one company called Noah Wang, with one email and
# two job titles, are two contacts). The attributes compared, per kind:
TOLD_APART: dict[str, tuple[str, ...]] = {
    kind: tuple(a for a in ATTRS[kind][1:] if a not in ("created_at", "position"))
    for kind in ("Customer", "Contact", "CloseReason", "Lead", "Channel")
}


def _key(kind: str, r: Ref, pipeline: int | None = None) -> tuple[Any, ...]:
    """What a name match compares: a stage's name in its pipeline, a contact's name and email."""
    name = (r.get("name") or "").strip().lower()
    if kind == "Stage":
        return (kind, name, pipeline)
    if kind == "Contact":  # without an email, any contact of that name
        return (kind, name, (r.get("email") or "").strip().lower() or "*")
    return (kind, name)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _carried(kind: str, r: Ref) -> list[str]:
    """The compared attributes the file gives for this reference (a null it gives included)."""
    said = r.get("_carried") or tuple(r)
    return [a for a in TOLD_APART[kind] if a in said]


def _says(kind: str, r: Ref) -> tuple[Any, ...]:
    """What the file says of the record a reference without an id names, beyond its name."""
    return tuple((a, _plain(r.get(a))) for a in _carried(kind, r))


def _agrees(kind: str, r: Ref, row: dict[str, Any]) -> bool:
    return all(_plain(r.get(a)) == _plain(row.get(a)) for a in _carried(kind, r))


def _email(r: Ref) -> str | None:
    name = r.get("name") or ""
    return r.get("email") or (name if "@" in name else None)


class Resolver:
    def __init__(self, session: AsyncSession, source: str) -> None:
        self.session, self.source = session, source
        self.by_id: dict[tuple[str, str], int] = {}
        self.by_name: dict[tuple[Any, ...], int] = {}
        self.failed: dict[int, list[UserErrorData]] = {}  # id(ref) → why it could not be made
        self.made_here: set[int] = set()  # definitions this import created (their options may grow)
        self.options: dict[int, list[str]] = {}
        # the rows of each name key, with their compared attributes (TOLD_APART kinds), and
        # which of them this import made
        self.namesakes: dict[tuple[Any, ...], dict[int, dict[str, Any]]] = defaultdict(dict)
        self.made: set[tuple[str, int]] = set()

    def rebind(self, session: AsyncSession) -> None:
        """Use the next batch's session; what was resolved stays (it was committed)."""
        self.session = session

    def forget(self) -> None:
        """After a rolled-back batch: nothing it made exists."""
        self.by_id.clear()
        self.by_name.clear()
        self.made_here.clear()
        self.options.clear()
        self.namesakes.clear()
        self.made.clear()

    async def resolve(self, refs: dict[str, list[Ref]]) -> None:
        """Give every reference a row (`_pk`), or a problem (`self.failed`)."""
        for kind in ORDER:
            wanted = refs.get(kind, [])
            if kind == "Stage":
                for r in wanted:
                    if r.get("pipeline") is not None:
                        r["_pipeline_pk"] = r["pipeline"].get("_pk")
            if wanted:
                await self._resolve(kind, wanted)

    def gid(self, kind: str, r: Ref | None) -> str | None:
        pk = None if r is None else r.get("_pk")
        return None if pk is None else to_global_id(kind, pk)

    async def _resolve(self, kind: str, refs: list[Ref]) -> None:
        model = MODELS[kind]
        ids = [r["id"] for r in refs if r.get("id") and (kind, r["id"]) not in self.by_id]
        if ids:
            found = await keys.lookup(self.session, kind, self.source, ids)
            alive = await self._existing(model, found.values())
            stale = [ext for ext, pk in found.items() if pk not in alive]
            if stale:  # the record was deleted since: its key is free again
                x = m.ExternalId
                await self.session.execute(
                    delete(x).where(x.kind == kind, x.source == self.source, x.external_id.in_(stale))
                )
            self.by_id.update({(kind, ext): pk for ext, pk in found.items() if pk in alive})
        for r in refs:
            if r.get("id") and (kind, r["id"]) in self.by_id:
                r["_pk"] = self.by_id[(kind, r["id"])]
        await self._match_names(kind, model, [r for r in refs if "_pk" not in r])
        made: dict[tuple[Any, ...], Ref] = {}  # one row for the refs of one record, however often named
        later: list[tuple[Ref, Ref]] = []
        for r in refs:
            if "_pk" in r:
                continue
            same = ("id", r["id"]) if r.get("id") else _key(kind, r, r.get("_pipeline_pk"))
            if kind in TOLD_APART and not r.get("id"):
                same = (*same, _says(kind, r))
            if same in made:
                later.append((r, made[same]))
            else:
                made[same] = r
        await self._create(kind, list(made.values()))
        for r, first in later:
            if "_pk" in first:
                r["_pk"] = first["_pk"]
            elif id(first) in self.failed:
                self.failed[id(r)] = self.failed[id(first)]
        claims = {
            (r["id"], r["_pk"])
            for r in refs
            if r.get("id") and "_pk" in r and (kind, r["id"]) not in self.by_id
        }
        if claims:
            await keys.claim(self.session, kind, self.source, sorted(claims))
            self.by_id.update({(kind, ext): pk for ext, pk in claims})
        if kind == "CustomFieldDefinition":
            await self._grow_options(refs)

    async def _existing(self, model: Any, pks: Iterable[int]) -> set[int]:
        wanted = sorted(set(pks))
        if not wanted:
            return set()
        return set((await self.session.execute(select(model.id).where(model.id.in_(wanted)))).scalars())

    async def _match_names(self, kind: str, model: Any, refs: list[Ref]) -> None:
        todo = [r for r in refs if r.get("name") and _key(kind, r, r.get("_pipeline_pk")) not in self.by_name]
        column = getattr(model, NAME_COLUMNS[kind])
        names = sorted({r["name"] for r in todo})
        for at in range(0, len(names), keys.CHUNK):
            chunk = names[at : at + keys.CHUNK]
            extra = [model.pipeline_id] if kind == "Stage" else [model.email] if kind == "Contact" else []
            compared = [getattr(model, a) for a in TOLD_APART.get(kind, ())]
            stmt = (
                select(model.id, column, *extra, *compared).where(column.in_(chunk)).order_by(model.id.desc())
            )
            for row in await self.session.execute(stmt):
                # the oldest of equal names wins (ordered newest first, so it is written last)
                name = row[1].strip().lower()
                found: list[tuple[Any, ...]]
                if kind == "Stage":
                    found = [(kind, name, row[2]), (kind, name, None)]  # None: named without its pipeline
                elif kind == "Contact":
                    found = [(kind, name, (row[2] or "").strip().lower() or "*"), (kind, name, "*")]
                else:
                    found = [(kind, name)]
                for key in found:
                    self.by_name[key] = row[0]
                    if kind in TOLD_APART:
                        self.namesakes[key][row[0]] = dict(
                            zip(TOLD_APART[kind], row[len(row) - len(compared) :], strict=True)
                        )
        if kind == "User":  # a user is matched by email, else (a file that gives none) by display name
            rest = sorted({r["display_name"] for r in refs if r.get("display_name") and not _email(r)})
            for at in range(0, len(rest), keys.CHUNK):
                stmt = select(model.id, model.display_name).where(
                    model.display_name.in_(rest[at : at + keys.CHUNK])
                )
                for row in await self.session.execute(stmt.order_by(model.id.desc())):
                    self.by_name[("User:display", row[1].strip().lower())] = row[0]
        matches: list[tuple[Ref, int]] = []
        for r in refs:
            if kind in TOLD_APART and not r.get("id"):
                pk = self._namesake(kind, r) if r.get("name") else None
            else:
                pk = self.by_name.get(_key(kind, r, r.get("_pipeline_pk"))) if r.get("name") else None
            if pk is None and kind == "User" and r.get("display_name") and not _email(r):
                pk = self.by_name.get(("User:display", r["display_name"].strip().lower()))
            if pk is not None:
                matches.append((r, pk))
        # a record with an id of this source is not another id's record of the same name: two
        # people called Noah Wang in the file are two contacts
        taken = await keys.of_rows(self.session, kind, self.source, {pk for _, pk in matches})
        taken.update({pk: ext for (k, ext), pk in self.by_id.items() if k == kind})
        for r, pk in matches:
            if r.get("id") and taken.get(pk, r["id"]) != r["id"]:
                continue
            r["_pk"] = pk
            if r.get("id"):
                taken[pk] = r["id"]

    def _namesake(self, kind: str, r: Ref) -> int | None:
        """The row a reference without an id names: the oldest of its name that agrees with what
        the file says of it; else the oldest of its name (a record found by name is not updated
        from the file), unless this import made every one of them: then the file names yet
        another record of that name, and it is created."""
        rows = self.namesakes.get(_key(kind, r))
        if not rows:
            return None
        order = sorted(rows)
        agreeing = [pk for pk in order if _agrees(kind, r, rows[pk])]
        older = [pk for pk in order if (kind, pk) not in self.made]
        chosen = agreeing or older
        return chosen[0] if chosen else None

    async def _create(self, kind: str, refs: list[Ref]) -> None:
        """Create the records still missing, all of a kind at once (app/crud's create checks)."""
        if not refs:
            return
        givens = [self._given(kind, r) for r in refs]
        if kind == "Stage" and any(g["pipeline_id"] is None for g in givens):
            default = to_global_id("Pipeline", await self._default_pipeline())
            for g in givens:
                g["pipeline_id"] = g["pipeline_id"] or default
        made: list[int | list[UserErrorData]]
        if kind == "User":
            made = list(await self._create_users(givens))
        elif kind == "CustomFieldDefinition":
            made = [await self._create_definition(given) for given in givens]
        else:
            made = await related.create_many(self.session, type_name=kind, givens=givens)
        came_in: dict[int, Any] = {}
        for r, given, pk in zip(refs, givens, made, strict=True):
            if isinstance(pk, list):
                self.failed[id(r)] = pk
                continue
            r["_pk"] = pk
            self.by_name[_key(kind, r, r.get("_pipeline_pk"))] = pk
            self.made.add((kind, pk))
            if kind in TOLD_APART:
                self.namesakes[_key(kind, r)][pk] = {a: r.get(a) for a in TOLD_APART[kind]}
            if kind == "Lead" and r.get("created_at") is not None:
                came_in[pk] = r["created_at"]  # when the prospect came in: the file's
            if kind == "CustomFieldDefinition":
                self.made_here.add(pk)
                self.options[pk] = list(given.get("options") or [])
        if came_in:
            lead = m.Lead
            stmt = (
                update(lead).where(lead.id.in_(list(came_in))).values(created_at=case(came_in, value=lead.id))
            )
            await self.session.execute(stmt.execution_options(synchronize_session=False))

    async def _create_definition(self, given: dict[str, Any]) -> int | list[UserErrorData]:
        try:
            async with self.session.begin_nested():
                return await custom_fields.create_definition(self.session, given=given)
        except Invalid as exc:
            return list(exc.problems)

    def _given(self, kind: str, r: Ref) -> dict[str, Any]:
        name_column = NAME_COLUMNS[kind]
        given: dict[str, Any] = {}
        for attr in ATTRS[kind]:
            if attr in r and attr not in ADDRESS and attr != "created_at":
                value = r[attr]
                enum = ENUMS.get((kind, attr))
                given[attr] = enum(value) if enum is not None and value is not None else value
        if kind in ("Customer",) and any(r.get(a) is not None for a in ADDRESS):
            given["address"] = SimpleNamespace(**{a: r.get(a) for a in ADDRESS})
        if kind != "User" and not given.get(name_column):
            given[name_column] = r.get("name") or (f"{kind} {r['id']}" if r.get("id") else None)
        elif r.get("name") and "@" in r["name"]:
            given.setdefault("email", r["name"])
        if kind == "User" and not given.get("email"):
            given["email"] = f"{self.source}-{r.get('id') or abs(hash(r.get('display_name')))}@import.invalid"
        if kind == "User":
            given.setdefault("display_name", r.get("display_name") or given["email"].split("@")[0])
        if kind == "Stage":
            given["pipeline_id"] = (
                None if r.get("_pipeline_pk") is None else to_global_id("Pipeline", r["_pipeline_pk"])
            )
            given.setdefault("type", StageType.OPEN)
            given.pop("position", None)
            if r.get("_position") is not None:
                given["position"] = r["_position"]
        if kind == "CloseReason":
            given.setdefault("kind", CloseReasonKind.LOST)
        if kind == "CustomFieldDefinition":
            given.setdefault("field_type", CustomFieldType.TEXT_FIELD)
            given.pop("is_required", None)  # an import never makes a field required
            given.pop("position", None)
            if r.get("_position") is not None:
                given["position"] = r["_position"]
            if given["field_type"] == CustomFieldType.SELECT_BOX:
                given["options"] = list(r.get("_values") or []) or ["—"]
            else:
                given.pop("options", None)
        return given

    async def _default_pipeline(self) -> int:
        """Where a stage named without a pipeline goes: the oldest one, else a new one named after the source."""
        pk = await self.session.scalar(select(m.Pipeline.id).order_by(m.Pipeline.id).limit(1))
        if pk is None:
            pk = await related.create(
                self.session, type_name="Pipeline", given={"name": self.source.capitalize()}
            )
        return int(pk)

    async def _create_users(self, givens: list[dict[str, Any]]) -> list[int]:
        """Users an import names (no API creates them: they sign in elsewhere), in one INSERT."""
        org = principal(self.session).organization_id
        rows = [
            {
                "organization_id": org,
                "email": str(given["email"])[:320],
                "display_name": str(given.get("display_name") or given["email"])[:255],
                "title": given.get("title"),
                "avatar_url": given.get("avatar_url"),
                "profile_url": given.get("profile_url"),
            }
            for given in givens
        ]
        return await insert_returning_ids(self.session, m.User, rows)

    async def _grow_options(self, refs: list[Ref]) -> None:
        """Values of a select box this import created that are not among its options yet."""
        grown: dict[int, list[str]] = defaultdict(list)
        for r in refs:
            pk = r.get("_pk")
            if pk in self.made_here:
                for value in r.get("_values") or []:
                    if value not in self.options[pk] and value not in grown[pk]:
                        grown[pk].append(value)
        for pk, extra in grown.items():
            self.options[pk] = [o for o in self.options[pk] if o != "—"] + extra
            d = m.CustomFieldDefinition
            stmt = update(d).where(d.id == pk).values(options=self.options[pk])
            await self.session.execute(stmt.execution_options(synchronize_session=False))
