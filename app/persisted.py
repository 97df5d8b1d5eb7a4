"""Persisted documents: Apollo's automatic persisted queries (APQ) and trusted documents.

See docs/persisted-documents.md. A request may name its document by the SHA-256 of its text,
as `extensions.persistedQuery {version: 1, sha256Hash}` (APQ, POST or GET) or as a top-level
`documentId: "sha256:<hex>"` (or the bare hex). The view asks `PersistedDocuments.document` for the text to run
before the operation executes, so a persisted document goes through the same parser, validation,
limits, roles and time limit as any other.

- Trusted documents come from a manifest (`OG_TRUSTED_DOCUMENTS`, `{hash: document}` as
  graphql-codegen's client preset and Relay write it), checked at startup: each hash is its
  document's, each document parses and validates against the schema. With
  `OG_ONLY_TRUSTED_DOCUMENTS=true` nothing else runs (PERSISTED_QUERY_REQUIRED), introspection
  included, and APQ registration is refused too.
- APQ documents are registered by sending the hash with the text; the hash is verified, and the
  document is stored only once it ran as a valid operation (never a text that does not validate),
  in the `persisted_query` table so every worker and machine shares it, behind a small
  in-process cache. The key is the hash of the text, so a hit gives a caller only a document it
  could have sent itself, run as that caller: the store needs no tenancy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import GraphQLError, GraphQLSchema, parse, validate
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite

from app.db import Database
from app.errors import Code
from app.models import PersistedQuery
from app.settings import Settings
from app.sqltypes import utcnow

log = logging.getLogger("opportunity_gateway")

APQ_VERSION = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")
# what the in-process cache holds at most, in characters of document text
CACHE_CHARACTERS = 4_000_000
# Apollo's persisted-query link retries with the full text on exactly this message (or the code)
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
T = PersistedQuery.__table__  # type: ignore[attr-defined]  # (SQLModel types columns as values)


class ManifestError(ValueError):
    """The trusted documents manifest cannot be used: the gateway does not start."""


class PersistedError(Exception):
    """A request's persisted document cannot run: answered as one GraphQL error, nothing executes."""

    def __init__(self, message: str, code: Code) -> None:
        super().__init__(message)
        self.code = code

    def graphql_error(self) -> GraphQLError:
        return GraphQLError(str(self), extensions={"code": self.code})


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_manifest(path: str, schema: GraphQLSchema) -> dict[str, str]:
    """The manifest at `path` as {sha256 hex: document}, or ManifestError saying what is wrong."""
    where = f"OG_TRUSTED_DOCUMENTS={path}"
    try:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ManifestError(f"{where}: cannot read the manifest ({error.strerror or error})") from error
    except ValueError as error:
        raise ManifestError(f"{where}: the manifest is not JSON ({error})") from error
    if not isinstance(manifest, dict):
        raise ManifestError(f'{where}: the manifest must be a JSON object {{"<sha256 hex>": "<document>"}}')
    documents: dict[str, str] = {}
    for key, document in manifest.items():
        digest = key.removeprefix("sha256:")
        if not _SHA256.fullmatch(digest):
            raise ManifestError(f"{where}: {key!r} is not a SHA-256 hash (64 lower-case hex digits)")
        if not isinstance(document, str):
            raise ManifestError(f"{where}: the document of {key} is not a string")
        if sha256_hex(document) != digest:
            raise ManifestError(f"{where}: {key} is not the SHA-256 of its document (a stale manifest?)")
        try:
            errors = validate(schema, parse(document))
        except GraphQLError as error:
            raise ManifestError(f"{where}: the document of {key} does not parse: {error.message}") from error
        if errors:
            raise ManifestError(f"{where}: the document of {key} does not validate: {errors[0].message}")
        documents[digest] = document
    return documents


@dataclass(frozen=True)
class Resolved:
    """The text a request runs, and the hash to register under once it ran (APQ), if any."""

    query: str | None
    register: str | None = None


class PersistedDocuments:
    """The trusted manifest, the APQ store and its cache: one per app, shared by its requests."""

    def __init__(self, settings: Settings, schema: GraphQLSchema) -> None:
        self.only_trusted = settings.only_trusted_documents
        if self.only_trusted and not settings.trusted_documents:
            raise ManifestError(
                "OG_ONLY_TRUSTED_DOCUMENTS=true needs OG_TRUSTED_DOCUMENTS, the path of the manifest"
            )
        self.trusted = load_manifest(settings.trusted_documents, schema) if settings.trusted_documents else {}
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._cached_characters = 0

    async def document(
        self, query: str | None, extensions: dict[str, Any] | None, document_id: Any, db: Database
    ) -> Resolved:
        """What to run for a request's `query`, `extensions` and top-level `documentId`."""
        digest, apq = _named(extensions, document_id)
        if digest is None:
            if self.only_trusted:
                raise PersistedError(
                    "This API runs trusted documents only (OG_ONLY_TRUSTED_DOCUMENTS): name one by its "
                    'hash, as extensions.persistedQuery or documentId "sha256:<hex>".',
                    Code.PERSISTED_QUERY_REQUIRED,
                )
            return Resolved(query)
        if query is not None:
            if sha256_hex(query) != digest:
                raise PersistedError("provided sha does not match query", Code.BAD_REQUEST)
            if digest in self.trusted:
                return Resolved(query)
            if self.only_trusted:
                raise PersistedError(
                    "This API runs trusted documents only (OG_ONLY_TRUSTED_DOCUMENTS): this document is "
                    "not one of them, and it cannot be registered.",
                    Code.PERSISTED_QUERY_REQUIRED,
                )
            known = digest in self._cache
            return Resolved(query, register=digest if apq and not known else None)
        found = self.trusted.get(digest)
        if found is None and not self.only_trusted:
            found = await self._stored(digest, db)
        if found is None:
            raise PersistedError(NOT_FOUND_MESSAGE, Code.PERSISTED_QUERY_NOT_FOUND)
        return Resolved(found)

    async def _stored(self, digest: str, db: Database) -> str | None:
        found = self._cache.get(digest)
        if found is not None:
            self._cache.move_to_end(digest)
            return found
        found = await db.scalar(select(T.c.document).where(T.c.sha256 == digest))
        if found is not None:
            self._remember(digest, found)
        return found

    def _remember(self, digest: str, document: str) -> None:
        if digest in self._cache or len(document) > CACHE_CHARACTERS:
            return
        self._cache[digest] = document
        self._cached_characters += len(document)
        while self._cached_characters > CACHE_CHARACTERS:
            _, dropped = self._cache.popitem(last=False)
            self._cached_characters -= len(dropped)

    async def register(self, documents: dict[str, str], db: Database) -> None:
        """Store documents that ran (APQ registration): once, whoever registers them first."""
        fresh = {digest: text for digest, text in documents.items() if digest not in self._cache}
        if not fresh:
            return
        now = utcnow()
        rows = [{"sha256": digest, "document": text, "created_at": now} for digest, text in fresh.items()]
        async with db.transaction() as session:
            await session.execute(_insert_new(db.dialect).values(rows))
        for digest, text in fresh.items():
            self._remember(digest, text)


def _named(extensions: dict[str, Any] | None, document_id: Any) -> tuple[str | None, bool]:
    """The hash a request names its document by, and whether it came by APQ (which registers)."""
    persisted = (extensions or {}).get("persistedQuery")
    digest: str | None = None
    if persisted is not None:
        if not isinstance(persisted, dict) or persisted.get("version") != APQ_VERSION:
            raise PersistedError(
                f"Unsupported persisted query version: extensions.persistedQuery needs version {APQ_VERSION}.",
                Code.BAD_REQUEST,
            )
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise PersistedError(
                "extensions.persistedQuery.sha256Hash must be a SHA-256 hash (64 lower-case hex digits).",
                Code.BAD_REQUEST,
            )
    if document_id is not None:
        # "sha256:<hex>" (GraphQL over HTTP's persisted documents); the bare hex too, as
        # graphql-codegen's client preset puts it in each document's `__meta__.hash`
        named = document_id.removeprefix("sha256:") if isinstance(document_id, str) else None
        if named is None or not _SHA256.fullmatch(named):
            raise PersistedError(
                'documentId must be "sha256:" and the document\'s SHA-256 (64 lower-case hex digits).',
                Code.BAD_REQUEST,
            )
        if digest is not None and digest != named:
            raise PersistedError(
                "documentId and extensions.persistedQuery name different documents.", Code.BAD_REQUEST
            )
        return named, digest is not None
    return digest, digest is not None


def _insert_new(dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(T).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(T).on_conflict_do_nothing()
    return insert(T)  # pragma: no cover - the two supported databases
