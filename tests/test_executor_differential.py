"""The compiled executor answers exactly as stock graphql-core, over the whole schema, on real data.

Two apps on one database seeded by the demo seeder: one with the compiled executor (the
default), one with OG_COMPILED_EXECUTOR=false. Every operation is posted to both and the
full responses (status, data, errors with messages, paths, locations and codes) must be
equal. Operations come from tests/test_executor.py's generator (aliases, @include/@skip
on variables, inline and named fragments, Node fragments, __typename, real global ids as
arguments, pages of at most 3) and from hypothesis-graphql (every argument of every root
field). Derandomized and bounded by EXECUTOR_EXAMPLES, so CI explores the same operations.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema, nodes

from app.db import make_engine
from app.demo import DEMO_ORGANIZATIONS, seed_demo
from app.enums import Role
from app.graphql import reads
from app.graphql.common import from_global_id
from app.graphql.executor import CompiledExecutor
from app.graphql.schema import build_schema
from tests.support import Api, make_tenant, running_app
from tests.test_executor import operations
from tests.test_fuzz import LoopThread, representation, run_settings

EXAMPLES = int(os.environ.get("EXECUTOR_EXAMPLES", "50"))
_BUILT = build_schema()
ROOTS = sorted(_BUILT._schema.query_type.fields)


class Pair:
    """A compiled and a stock app over one seeded database, on a loop thread."""

    def __init__(self, loop: LoopThread, database_url: str) -> None:
        self.loop = loop
        loop.run(self._seed(database_url))
        self._apps = [
            running_app(database_url, rate_limit="", request_timeout_seconds=60.0, compiled_executor=compiled)
            for compiled in (True, False)
        ]
        (fast, fast_client), (stock, stock_client) = (loop.run(a.__aenter__()) for a in self._apps)
        assert build_schema(fast.state.settings).execution_context_class is CompiledExecutor
        assert build_schema(stock.state.settings).execution_context_class is not CompiledExecutor
        self.key: str = loop.run(make_tenant(fast.state.engine, DEMO_ORGANIZATIONS[0][0], Role.ADMIN)).key
        self.fast, self.stock = Api(fast_client, self.key), Api(stock_client, self.key)
        self.ids: list[str] = loop.run(self._ids())
        self.ids_by_type: dict[str, list[str]] = {"": self.ids}  # "": any type (Node)
        for gid in self.ids:
            decoded = from_global_id(gid)
            if decoded is not None:
                self.ids_by_type.setdefault(decoded[0], []).append(gid)
        self.compared = 0
        self.with_errors = 0
        self.with_data = 0  # responses with some data: operations that executed, not refusals

    async def _seed(self, database_url: str) -> None:
        engine = make_engine(database_url)
        try:
            await seed_demo(engine, opportunities=40, progress=False)
        finally:
            await engine.dispose()

    async def _ids(self) -> list[str]:
        lists = "customers contacts users pipelines stages closeReasons channels leads opportunityTypes"
        data = await self.fast(
            "{ opportunities(first: 3) { nodes { id customer { id } contact { id } owner { id }"
            " stage { id pipeline { id } } items { id } customFields { definition { id } } } }"
            + "".join(f" {name}(first: 2) {{ nodes {{ id }} }}" for name in lists.split())
            + " viewer { id } }"
        )
        found: set[str] = set()

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                found.update(v for k, v in value.items() if k == "id")
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)

        walk(data)
        return sorted(found)

    def compare(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        fast = self.loop.run(self.fast.raw(document, variables))
        stock = self.loop.run(self.stock.raw(document, variables))
        got, expected = _comparable(fast), _comparable(stock)
        assert got == expected, document
        self.compared += 1
        self.with_errors += bool(got[1].get("errors"))
        self.with_data += bool(got[1].get("data"))
        return got[1]

    def close(self) -> None:
        for app in reversed(self._apps):
            self.loop.run(app.__aexit__(None, None, None))


def _comparable(response: httpx.Response) -> tuple[int, dict[str, Any]]:
    body = response.json()
    for error in body.get("errors") or []:
        (error.get("extensions") or {}).pop("requestId", None)  # unique per request by design
    return response.status_code, body


@pytest.fixture
def pair(database_url: str) -> Iterator[Pair]:
    loop = LoopThread()
    target = Pair(loop, database_url)
    try:
        yield target
    finally:
        target.close()
        loop.close()


RUN = run_settings(EXAMPLES)


def test_random_operations_over_the_whole_schema(pair: Pair) -> None:
    @RUN
    @given(st.data())
    def run(data: st.DataObject) -> None:
        document, variables = data.draw(operations(_BUILT._schema, ids=pair.ids_by_type, depth=5, width=4))
        pair.compare(document, variables)

    run()
    assert pair.compared >= EXAMPLES
    assert pair.with_data >= EXAMPLES // 2  # the generator makes operations that execute


VALID_SCALARS = {
    "Decimal": st.sampled_from(["0", "10", "1234.50", "-3"]).map(nodes.String),
    "Date": st.sampled_from(["2025-01-01", "2026-06-30"]).map(nodes.String),
    "DateTime": st.sampled_from(["2025-01-01T00:00:00Z", "2026-06-30T12:00:00+02:00"]).map(nodes.String),
}


def test_hypothesis_graphql_queries_with_every_argument(pair: Pair) -> None:
    scalars = {
        **VALID_SCALARS,
        "ID": st.sampled_from(pair.ids).map(nodes.String),
        # federation's representations, of the entities the ids are
        "_Any": st.sampled_from(pair.ids).map(lambda gid: representation(from_global_id(gid)[0], gid)),  # type: ignore[index]
    }

    @settings(RUN, max_examples=EXAMPLES * 3 // 5)  # most of these are refused arguments
    @given(from_schema(_BUILT._schema, fields=ROOTS, custom_scalars=scalars))
    def run(document: str) -> None:
        pair.compare(document)

    run()
    assert pair.compared >= EXAMPLES * 3 // 5


def test_targeted_operations(pair: Pair) -> None:
    board = """query B($withItems: Boolean!, $noCustomer: Boolean!) {
      opportunities(first: 5, orderBy: [{ field: ID, direction: ASC }]) {
        totalCount pageInfo { hasNextPage endCursor }
        nodes {
          __typename id title amount currency probability expectedRevenue status expectedCloseDate
          createdAt
          customer @skip(if: $noCustomer) { id name }
          items @include(if: $withItems) { itemName quantity rate amount }
          ...on Node { id }
          customFields { value definition { label fieldType options } }
        }
      }
    }"""
    for with_items in (True, False):
        for no_customer in (True, False):
            body = pair.compare(board, {"withItems": with_items, "noCustomer": no_customer})
            row = body["data"]["opportunities"]["nodes"][0]
            assert ("items" in row) is with_items and ("customer" in row) is not no_customer
            assert row["__typename"] == "Opportunity"
    body = pair.compare(
        "{ a: opportunities(first: 1) { nodes { id title } } b: opportunities(first: 2) { nodes { id } }"
        " c: opportunities(first: 2, orderBy: [{ field: ID, direction: DESC }]) { nodes { t: title } } }"
    )
    assert [len(body["data"][k]["nodes"]) for k in "abc"] == [1, 2, 2]
    ids = pair.ids
    ids = [*ids, "T3Bwb3J0dW5pdHk6OTk5OTk5", "garbage"]  # missing, and not an id at all
    body = pair.compare(
        "query N($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Opportunity { title amount }"
        " ... on Customer { name } ...U } } fragment U on User { displayName }",
        {"ids": ids},
    )
    assert body["data"]["nodes"][-1] is None
    pair.compare(f'{{ node(id: "{ids[0]}") {{ __typename ... on Node {{ id }} }} viewer {{ id }} }}')
    pair.compare("{ opportunities(first: 2) { nodes { id } } __typename }")
    pair.compare("{ opportunities(first: -1) { nodes { id } } customers(first: 1) { nodes { id } } }")


PLANNED = [
    # the board, with every computed field that declares its reads, and relations through hops
    """{ opportunities(first: 4, orderBy: [{ field: AMOUNT, direction: DESC }]) {
      totalCount pageInfo { hasNextPage endCursor startCursor }
      edges { cursor node { id title expectedRevenue baseAmount itemsTotal canEdit
        utm { source medium campaign content }
        stage { name } pipeline { name stages { name position } }
        contact { displayName customer { name address { city country } } }
        customer { ...C } owner { displayName email }
        items { itemName amount baseAmount baseRate quantity }
        customFields { value label fieldType definition { position } }
        history(first: 1) { totalCount } stageHistory { enteredAt } } } } }
    fragment C on Customer { id name industry website }""",
    # a named fragment on the root's type, cursors of another order, nested connections below
    """{ customers(first: 3, orderBy: [{ field: NAME, direction: ASC }]) {
      pageInfo { endCursor } nodes { name ...Deals contacts { email } } } }
    fragment Deals on Customer { opportunities(first: 2) { totalCount nodes { title stage { type } } } }""",
    # one object by id, and the same entity selected two ways in one operation
    "query O($id: ID!) { opportunity(id: $id) { title owner { displayName } }"
    " opportunities(first: 3) { nodes { amount currency owner { email avatarUrl } } } }",
    # a second page from a cursor over a column the selection does not read
    """query P($after: String) { opportunities(first: 2, after: $after,
      orderBy: [{ field: EXPECTED_CLOSE_DATE, direction: ASC }, { field: ID, direction: ASC }]) {
      pageInfo { endCursor hasNextPage } nodes { title } } }""",
]


def test_planned_columns_answer_as_every_column(pair: Pair) -> None:
    # These operations plan their columns (asserted), so the compiled app selects fewer of them
    # than the stock one, which selects every column: the answers must not differ.
    schema = _BUILT._schema
    for document in PLANNED:
        operation = next(d for d in parse(document).definitions if isinstance(d, OperationDefinitionNode))
        fragments = {
            d.name.value: d for d in parse(document).definitions if isinstance(d, FragmentDefinitionNode)
        }
        assert reads.plan(schema, operation, fragments) is not None, document
    pair.compare(PLANNED[0])
    pair.compare(PLANNED[1])
    deal = next(i for i in pair.ids if i.startswith("T3Bwb3J0dW5pdHk"))
    pair.compare(PLANNED[2], {"id": deal})
    first = pair.compare(PLANNED[3], {"after": None})
    cursor = first["data"]["opportunities"]["pageInfo"]["endCursor"]
    second = pair.compare(PLANNED[3], {"after": cursor})
    assert second["data"]["opportunities"]["nodes"] != first["data"]["opportunities"]["nodes"]
