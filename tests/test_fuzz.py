"""A bounded fuzz run of the whole schema: generated queries and mutations never get a 5xx.

hypothesis-graphql builds documents from the schema itself, valid ones (positive mode) and
ones that break it (negative mode), with hostile scalar values (NaN, huge and garbage
decimals, bad dates, NUL and control characters, garbage ids). Every answer must be JSON
with a status below 500, and no error may be INTERNAL_SERVER_ERROR: an unexpected
exception is a bug even when it is masked.

The app runs on one event loop in a thread of its own for the whole run (its engine and
pools belong to that loop), while hypothesis drives examples synchronously. The run is
derandomized, so CI always explores the same examples, and bounded by FUZZ_EXAMPLES.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    NameNode,
    ObjectFieldNode,
    ObjectValueNode,
    get_named_type,
    is_leaf_type,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes

from app import models as m
from app.enums import Role
from app.graphql.schema import build_schema
from tests.support import Api, gid, insert, make_board, make_tenant, opportunity, running_app

T = TypeVar("T")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
_BUILT = build_schema()
# the built schema, not its SDL: the SDL applies federation's @key and @link without defining them
SCHEMA = _BUILT._schema

DECIMALS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12).map(
        str
    ),
    st.sampled_from(
        ["NaN", "-Infinity", "sNaN", "1e999999999", "1e16", "-1e400", "0E-50", "", " 1", "0x1F", "1_000"]
    ),
    st.text(max_size=12),
)
DATES = st.one_of(
    st.dates().map(str), st.sampled_from(["2026-02-30", "0000-01-01", "9999-12-31", "tomorrow", ""])
)
DATETIMES = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(["2026-01-01T25:00:00Z", "2026-01-01T00:00:00+99:00", "1970", ""]),
)
IDS = st.one_of(
    st.sampled_from(
        [
            "T3Bwb3J0dW5pdHk6MQ",
            "T3Bwb3J0dW5pdHk6Mg",
            "Q3VzdG9tZXI6MQ",
            "U3RhZ2U6MQ",
            "VXNlcjox",
            "T3Bwb3J0dW5pdHk6LTE",
            "T3Bwb3J0dW5pdHk6OTk5OTk5OTk5OTk5OTk5OTk5OTk5",
            "%%%",
            "",
        ]
    ),
    st.text(max_size=20),
)
SCALARS = {
    "Decimal": DECIMALS.map(nodes.String),
    "Date": DATES.map(nodes.String),
    "DateTime": DATETIMES.map(nodes.String),
    "ID": IDS.map(nodes.String),
    "_Any": st.tuples(st.sampled_from(["Opportunity", "Customer", "Stage", "Organization", ""]), IDS).map(
        lambda t: representation(*t)
    ),
}


def representation(type_name: str, gid: str) -> ObjectValueNode:
    """A federation representation `{__typename, id}` as a GraphQL literal."""
    return nodes.Object(
        [
            ObjectFieldNode(name=NameNode(value="__typename"), value=nodes.String(type_name)),
            ObjectFieldNode(name=NameNode(value="id"), value=nodes.String(gid)),
        ]
    )


class LoopThread:
    """An event loop in a thread: the app lives there, examples are run on it one by one."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class Fuzzed:
    """The app with some data, and an admin's client, on the loop thread."""

    def __init__(self, loop: LoopThread, database_url: str) -> None:
        self.loop = loop
        self._app = running_app(database_url, rate_limit="", request_timeout_seconds=30.0)
        self.app, client = loop.run(self._app.__aenter__())
        self.api: Api = loop.run(self._seed(client))
        self.seen: dict[int, int] = {}

    async def _seed(self, client: httpx.AsyncClient) -> Api:
        engine = self.app.state.engine
        acme = await make_tenant(engine, "Acme", Role.ADMIN)
        other = await make_tenant(engine, "Globex", Role.ADMIN)
        for tenant in (acme, other):
            board = await make_board(engine, tenant.organization_id)
            [deal, _] = await insert(
                engine,
                opportunity(
                    tenant.organization_id, stage_id=board.stages[0], customer_id=board.customer, amount=10
                ),
                opportunity(
                    tenant.organization_id, is_private=True, owner_id=tenant.user_id, stage_id=board.stages[1]
                ),
            )
            await insert(
                engine,
                m.OpportunityItem(
                    organization_id=tenant.organization_id, opportunity_id=deal, item_name="Seat"
                ),
            )
        assert gid("Opportunity", 1) == "T3Bwb3J0dW5pdHk6MQ"
        return Api(client, acme.key)

    def post(self, document: str, variables: dict[str, Any] | None = None) -> None:
        response = self.loop.run(self.api.raw(document, variables))
        self.seen[response.status_code] = self.seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, (document, response.text)
        body = response.json()
        codes = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
        assert "INTERNAL_SERVER_ERROR" not in codes, (document, body)
        assert all(codes), (document, body)  # every error carries a code

    def close(self) -> None:
        self.loop.run(self._app.__aexit__(None, None, None))


@pytest.fixture
def fuzzed(database_url: str) -> Iterator[Fuzzed]:
    loop = LoopThread()
    target = Fuzzed(loop, database_url)
    try:
        yield target
    finally:
        target.close()
        loop.close()


def run_settings(examples: int) -> settings:
    """Hypothesis for a suite over a real app: reproducible, no deadline (the app's own limits
    hold), no example database, and the fixture reused across examples on purpose."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
        ],
    )


RUN = run_settings(EXAMPLES)


@pytest.mark.parametrize("mode", [Mode.POSITIVE, Mode.NEGATIVE])
def test_fuzzed_queries_never_fail_the_server(fuzzed: Fuzzed, mode: Mode) -> None:
    @RUN
    @given(from_schema(SCHEMA, custom_scalars=SCALARS, mode=mode, fields=[f for f in _roots("Query")]))
    def run(document: str) -> None:
        fuzzed.post(document)

    run()
    assert sum(fuzzed.seen.values()) >= min(EXAMPLES, 50)


@pytest.mark.parametrize("mode", [Mode.POSITIVE, Mode.NEGATIVE])
def test_fuzzed_mutations_never_fail_the_server(fuzzed: Fuzzed, mode: Mode) -> None:
    @RUN
    @given(from_schema(SCHEMA, custom_scalars=SCALARS, mode=mode, fields=[f for f in _roots("Mutation")]))
    def run(document: str) -> None:
        fuzzed.post(document)

    run()
    assert sum(fuzzed.seen.values()) >= min(EXAMPLES, 50)


# ---------------------------------------------------------------- variables from the input types

INTS = st.one_of(st.integers(-5, 1100), st.sampled_from([-(2**31), 2**31 - 1, 2**31, 2**53, -1]))
TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["%", "_", "\\", "'; DROP TABLE opportunity; --", "\x00", "x" * 70_000]),
)
LEAVES: dict[str, st.SearchStrategy[Any]] = {
    "Decimal": DECIMALS,
    "Date": DATES,
    "DateTime": DATETIMES,
    "ID": IDS,
    "String": TEXT,
    "Int": INTS,
    "Boolean": st.booleans(),
    "Float": st.floats(),
}


def values_of(t: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """JSON values shaped like input type `t` (mostly), with hostile leaves."""
    if isinstance(t, GraphQLNonNull):
        return values_of(t.of_type, depth)
    if isinstance(t, GraphQLList):
        return st.lists(values_of(t.of_type, depth + 1), max_size=3)
    if isinstance(t, GraphQLEnumType):
        return st.one_of(st.sampled_from(list(t.values)), st.just("NOT_A_VALUE"))
    if isinstance(t, GraphQLInputObjectType):
        if depth > 3:
            return st.just({})
        required = {
            n: values_of(f.type, depth + 1) for n, f in t.fields.items() if isinstance(f.type, GraphQLNonNull)
        }
        optional = {
            n: st.none() | values_of(f.type, depth + 1) for n, f in t.fields.items() if n not in required
        }
        return st.fixed_dictionaries(required, optional=optional)
    return LEAVES.get(t.name, TEXT)


def call_of(name: str, kind: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """A document calling root field `name` with every argument as a variable, and values for them."""
    field = SCHEMA.get_type(kind.title()).fields[name]
    decl = ", ".join(f"${a}: {arg.type}" for a, arg in field.args.items())
    args = ", ".join(f"{a}: ${a}" for a in field.args)
    returns = get_named_type(field.type)
    selection = " { __typename }" if not is_leaf_type(returns) else ""
    document = f"{kind}{f'({decl})' if decl else ''} {{ {name}{f'({args})' if args else ''}{selection} }}"
    optional = {
        a: values_of(arg.type) for a, arg in field.args.items() if not isinstance(arg.type, GraphQLNonNull)
    }
    required = {
        a: values_of(arg.type) for a, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull)
    }
    return st.fixed_dictionaries(required, optional=optional).map(lambda v: (document, v))


@pytest.mark.parametrize("kind", ["query", "mutation"])
def test_fuzzed_variables_never_fail_the_server(fuzzed: Fuzzed, kind: str) -> None:
    """Every argument of every root field, from its input type, with hostile leaves."""
    calls = st.sampled_from(_roots(kind.title())).flatmap(lambda name: call_of(name, kind))

    @RUN
    @given(calls)
    def run(call: tuple[str, dict[str, Any]]) -> None:
        fuzzed.post(*call)

    run()


def _roots(type_name: str) -> list[str]:
    root = SCHEMA.get_type(type_name)
    return sorted(root.fields)
