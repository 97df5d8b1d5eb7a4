"""The per-request context: who calls, how to reach the database, and this request's loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry
from starlette.requests import Request
from starlette.responses import Response

from app.db import Database
from app.graphql.loaders import Loaders
from app.settings import Settings
from app.tenancy import Principal


@dataclass
class Context:
    request: Request | None
    settings: Settings
    principal: Principal
    db: Database  # the request's one read connection, and its write transactions
    loaders: Loaders
    response: Response | None = None
    extras: dict[str, Any] = field(default_factory=dict)


Info = strawberry.Info[Context, None]
