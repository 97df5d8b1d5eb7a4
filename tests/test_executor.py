"""The compiled executor against stock graphql-core on a schema built to go wrong.

Rows of `Item` break in every way a field can: null for non-null (plain attributes and
resolvers), values a scalar cannot serialize, resolvers that raise, sync and async,
awaitable list items, abstract types, arguments. Every operation runs on both executors
and the full results (data, and errors with message, locations, path and extensions)
must be equal. `operations` (also used by test_executor_differential.py) generates
random valid operations with aliases, @include/@skip on variables, inline and named
fragments (on interfaces too) and __typename.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    get_named_type,
    is_leaf_type,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema
from strawberry.extensions import SchemaExtension

from app.graphql import field_plans as compiled
from app.graphql.executor import CompiledExecutor
from app.graphql.field_plans import LEAF, LIST, OBJECT, STOCK, TYPENAME, compile_field

# ---------------------------------------------------------------- random operations


@st.composite
def operations(
    draw: st.DrawFn,
    schema: GraphQLSchema,
    *,
    ids: Mapping[str, Sequence[str]] | None = None,
    depth: int = 3,
    width: int = 4,
    roots: Sequence[str] | None = None,
) -> tuple[str, dict[str, bool]]:
    """A valid query and its variables: random fields, aliases, directives on variables, fragments.

    Fields with an argument the generator cannot fill are left out; `first` is always given
    (0-3), so pages stay small; other optional arguments are given only when they are
    booleans, enums or `offset` (cursors and ids made up at random are only refused).
    An `ID` argument takes an id of the field's type from `ids` (type name -> ids, ""
    for any type). Every field with arguments gets an alias of its own, the others may
    repeat (in fragments too), which exercises field merging.
    """
    known = ids or {"": ["1"]}
    variables: list[str] = []
    fragments: list[str] = []
    aliases = itertools.count()

    def directive() -> str:
        r = draw(st.integers(0, 9))
        if r > 1:
            return ""
        if not variables or draw(st.booleans()):
            variables.append(f"v{len(variables)}")
            name = variables[-1]  # declared only when used: unused variables are invalid
        else:
            name = draw(st.sampled_from(variables))
        return f" @{'include' if r == 0 else 'skip'}(if: ${name})"

    def value(t: Any, name: str, returns: str) -> str | None:
        named = get_named_type(t)
        if isinstance(named, GraphQLEnumType):
            return draw(st.sampled_from(sorted(named.values)))
        match named.name:
            case "Int":
                return str(draw(st.integers(0, 3)))
            case "Boolean":
                return draw(st.sampled_from(["true", "false"]))
            case "String":
                return draw(st.sampled_from(['""', '"a"', '"Acme"']))
            case "ID":
                return f'"{draw(st.sampled_from(list(known.get(returns) or known[""])))}"'
        return None

    def arguments(field: Any) -> str | None:
        parts = []
        returns = get_named_type(field.type).name
        for name, arg in field.args.items():
            required = isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
            optional = name == "offset" or get_named_type(arg.type).name == "Boolean"
            optional = optional or isinstance(get_named_type(arg.type), GraphQLEnumType)
            if name == "first" or required or (optional and draw(st.integers(0, 2)) == 0):
                literal = value(arg.type, name, returns) if not str(arg.type).startswith("[") else None
                if literal is None:
                    if required:
                        return None
                    continue
                parts.append(f"{name}: {literal}")
        return f"({', '.join(parts)})" if parts else ""

    def selection(t: Any, level: int) -> str:
        if isinstance(t, GraphQLUnionType | GraphQLInterfaceType):
            possible = list(schema.get_possible_types(t))
            chosen = draw(st.lists(st.sampled_from(possible), max_size=2, unique_by=lambda p: p.name))
            parts = ["__typename"]
            if isinstance(t, GraphQLInterfaceType):
                parts.append(fields_of(t, level))
            parts += [f"... on {p.name}{directive()} {{ {fields_of(p, level)} }}" for p in chosen]
            return " ".join(parts)
        parts = [fields_of(t, level)]
        if draw(st.integers(0, 3)) == 0:
            parts.append(f"__typename{directive()}")
        if draw(st.integers(0, 4)) == 0:
            on = draw(st.sampled_from([t, *t.interfaces]))
            parts.append(f"... on {on.name}{directive()} {{ {fields_of(on, level)} }}")
        if draw(st.integers(0, 6)) == 0:
            name = f"f{len(fragments)}"
            fragments.append("")  # reserve the name: the body may define fragments of its own
            fragments[int(name[1:])] = f"fragment {name} on {t.name} {{ {fields_of(t, level)} }}"
            parts.append(f"...{name}{directive()}")
        return " ".join(parts)

    def fields_of(t: Any, level: int) -> str:
        names = sorted(t.fields)
        chosen = draw(st.lists(st.sampled_from(names), min_size=1 + (level == 1), max_size=width))
        parts = []
        for name in chosen:
            field = t.fields[name]
            args = arguments(field)
            if args is None:
                continue
            named = get_named_type(field.type)
            if is_leaf_type(named):
                sub = ""
            elif level >= depth:
                sub = " { __typename }"
            else:
                sub = f" {{ {selection(named, level + 1)} }}"
            alias = f"a{next(aliases)}: " if args or draw(st.integers(0, 3)) == 0 else ""
            parts.append(f"{alias}{name}{args}{directive()}{sub}")
        return " ".join(parts) or "__typename"

    query = schema.query_type
    assert query is not None
    names = list(roots or sorted(query.fields))
    body = fields_of(_only(query, names), 1)
    declared = ", ".join(f"${v}: Boolean!" for v in variables)
    document = f"query Q{f'({declared})' if declared else ''} {{ {body} }} {' '.join(fragments)}"
    return document, {v: draw(st.booleans()) for v in variables}


def _only(query: GraphQLObjectType, names: Sequence[str]) -> Any:
    class Roots:  # the root type, restricted to some of its fields
        fields = {n: query.fields[n] for n in names}
        interfaces: list[Any] = []
        name = query.name

    return Roots


# ---------------------------------------------------------------- a schema that goes wrong


@strawberry.enum(description="A color.")
class Color(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.interface(description="Anything with an id.")
class Node:
    id: strawberry.ID


@strawberry.type(description="A row that breaks in the ways its index says.")
class Item(Node):
    id: strawberry.ID
    label: str
    note: str | None
    count: int
    price: Decimal
    at: datetime
    color: Color
    tags: list[str]
    loose: list[str | None] | None
    scores: list[int | None]
    rank: int | None
    index: strawberry.Private[int]

    @strawberry.field(description="Raises on every third row.")
    def boom(self) -> str | None:
        if self.index % 3 == 0:
            raise ValueError(f"boom {self.index}")
        return f"ok {self.index}"

    @strawberry.field(description="Raises on every fourth row, and it is non-null.")
    def must_boom(self) -> str:
        if self.index % 4 == 1:
            raise ValueError(f"must boom {self.index}")
        return "fine"

    @strawberry.field(description="Async, raising on every fifth row.")
    async def later(self) -> str:
        await asyncio.sleep(0)
        if self.index % 5 == 2:
            raise ValueError(f"later {self.index}")
        return f"later {self.index}"

    @strawberry.field(description="The next row, sync; none after the last.")
    def next(self) -> Item | None:
        return ROWS[self.index + 1] if self.index + 1 < len(ROWS) else None

    @strawberry.field(description="The next row, async.")
    async def next_async(self) -> Item | None:
        return self.next()

    @strawberry.field(description="Non-null, but null on even rows.")
    def partner(self) -> Item:
        return None if self.index % 2 == 0 else ROWS[0]  # type: ignore[return-value]

    @strawberry.field(description="Some rows, a null among them on rows divisible by 3.")
    def children(self) -> list[Item]:
        picked: list[Any] = ROWS[: self.index % 4]
        # a null in a list of non-null items: the error under test (the annotation is the schema)
        return [*picked, None] if self.index % 3 == 0 else picked  # type: ignore[list-item]

    @strawberry.field(description="Rows as awaitables, some failing.")
    def promised(self) -> list[Item | None]:
        async def one(i: int) -> Item | None:
            if i == 2:
                raise ValueError("promised 2")
            return ROWS[i]

        # tasks, not bare coroutines: graphql-core itself leaves a coroutine item unawaited
        # when a sibling's error cancels the list before it starts (a warning, not a result)
        return [asyncio.ensure_future(one(i)) for i in range(min(self.index, 3))]  # type: ignore[misc]

    @strawberry.field(description="Abstract.")
    def node(self) -> Node | None:
        return ROWS[(self.index + 2) % len(ROWS)]

    @strawberry.field(description="With an argument.")
    def greet(self, name: str = "you") -> str:
        return f"hello {name} from {self.index}"

    @strawberry.field(description="The same row (index 3) from every row.")
    def shared(self) -> Item | None:
        return ROWS[3]

    @strawberry.field(description="Reads its info: the response key it answers under.")
    def answered_as(self, info: strawberry.Info) -> str:
        return f"{info.path.key} of {self.index}"


def _row(i: int) -> Item:
    return Item(
        id=strawberry.ID(str(i)),
        label=None if i % 7 == 3 else f"label {i}",
        note=None if i % 2 else f"note {i}",
        count="many" if i % 5 == 4 else i,
        price=Decimal("1234.50") * i,
        at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i),
        color=Color.BLUE if i % 2 else Color.RED,
        tags=["a", None, "c"] if i % 6 == 5 else ["a", f"t{i}"],  # type: ignore[list-item]
        loose=None if i % 3 == 1 else ["x", None],
        scores=[1, "bad", None] if i % 4 == 0 else [i],  # type: ignore[list-item]
        rank="first" if i % 3 == 2 else i,
        index=i,
    )


ROWS = [_row(i) for i in range(12)]


@strawberry.type(description="Roots.")
class Query:
    @strawberry.field(description="All rows.")
    def items(self) -> list[Item]:
        return ROWS

    @strawberry.field(description="All rows, or nulls where a row breaks a non-null field.")
    def maybe_items(self) -> list[Item | None]:
        return ROWS  # type: ignore[return-value]

    @strawberry.field(description="Rows, async.")
    async def async_items(self) -> list[Item] | None:
        return ROWS[:5]

    @strawberry.field(description="One row.")
    def item(self, index: int) -> Item | None:
        return ROWS[index] if 0 <= index < len(ROWS) else None

    @strawberry.field(description="Rows as nodes.")
    def nodes(self) -> list[Node | None]:
        return [*ROWS[:4], None]

    @strawberry.field(description="Lean: installed straight into graphql-core, like relation fields.")
    def lean(self) -> Item | None:
        raise AssertionError("replaced by a graphql-core resolver")


def lean_resolver(source: Any, info: Any) -> Any:
    return ROWS[len(info.path.as_list())]


class QuietSchema(strawberry.Schema):
    def process_errors(self, errors: Any, execution_context: Any = None) -> None:
        return None  # the errors are the subject here, not incidents to log


def make_schema(execution_context_class: Any, extensions: Sequence[Any] = ()) -> strawberry.Schema:
    schema = QuietSchema(
        query=Query,
        types=[Item],
        execution_context_class=execution_context_class,
        extensions=list(extensions),
    )
    schema._schema.query_type.fields["lean"].resolve = lean_resolver
    return schema


STOCK_SCHEMA = make_schema(None)
COMPILED_SCHEMA = make_schema(CompiledExecutor)
SDL = STOCK_SCHEMA.as_str()


def outcome(result: Any) -> dict[str, Any]:
    return {"data": result.data, "errors": [e.formatted for e in result.errors or []]}


async def run(schema: strawberry.Schema, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
    result = outcome(await schema.execute(query, variable_values=variables))
    # awaitables orphaned by an error are settled in the background: let them finish
    # (a coroutine left unawaited warns, and warnings fail the run)
    while pending := asyncio.all_tasks() - {asyncio.current_task()}:
        await asyncio.wait(pending)
    return result


async def both(
    query: str, variables: dict[str, Any] | None = None, schema: strawberry.Schema = COMPILED_SCHEMA
) -> dict[str, Any]:
    expected = await run(STOCK_SCHEMA, query, variables)
    got = await run(schema, query, variables)
    assert got == expected
    return got


# ---------------------------------------------------------------- targeted cases


async def test_errors_inside_lists_propagate_nulls_exactly_as_graphql_core() -> None:
    got = await both("{ maybeItems { children { id } id label count mustBoom boom partner { id } } }")
    errors = got["errors"]
    paths = [tuple(e["path"]) for e in errors]
    assert ("maybeItems", 0, "children", 0) in paths  # null item in [Item!]!
    assert ("maybeItems", 3, "children", 3) in paths
    assert ("maybeItems", 10, "label") in paths  # null for a non-null attribute
    assert ("maybeItems", 4, "count") in paths  # Int cannot represent "many"
    assert ("maybeItems", 1, "mustBoom") in paths  # raised in a non-null resolver
    assert ("maybeItems", 2, "partner") in paths  # null for a non-null object
    items = got["data"]["maybeItems"]
    assert [i for i, row in enumerate(items) if row is not None] == [7, 11]
    assert len(errors) == 10  # one per nulled row: nothing below a nulled position is reported
    assert all(e["locations"] for e in errors)


async def test_a_non_null_violation_nulls_the_whole_response_when_nothing_is_nullable() -> None:
    got = await both("{ items { id label } }")
    assert got["data"] is None
    assert got["errors"][0]["path"] == ["items", 3, "label"]


async def test_async_fields_and_awaitable_items_complete_like_graphql_core() -> None:
    got = await both("{ asyncItems { id later nextAsync { id later next { id } } promised { id boom } } }")
    assert ("asyncItems", 2, "later") in {tuple(e["path"]) for e in got["errors"]}
    assert got["data"] == {"asyncItems": None}
    got = await both("{ maybeItems { id promised { id later nextAsync { label } } } }")
    assert got["errors"]


async def test_include_and_skip_follow_the_variables_of_each_request() -> None:
    query = """query Q($a: Boolean!, $b: Boolean!) {
      items { id price @include(if: $a) note @skip(if: $b) ... on Item @include(if: $b) { color } }
    }"""
    seen = []
    for a, b in itertools.product([True, False], repeat=2):
        got = await both(query, {"a": a, "b": b})
        seen.append(sorted(got["data"]["items"][0]))
    assert seen == [["color", "id", "price"], ["id", "note", "price"], ["color", "id"], ["id", "note"]]


async def test_aliases_of_one_field_with_different_arguments() -> None:
    got = await both('{ item(index: 2) { a: greet(name: "a") b: greet(name: "b") c: greet id2: id } }')
    assert got["data"]["item"] == {
        "a": "hello a from 2",
        "b": "hello b from 2",
        "c": "hello you from 2",
        "id2": "2",
    }


async def test_method_resolvers_called_directly_and_ones_that_read_their_info() -> None:
    got = await both("{ item(index: 3) { boom mustBoom a: answeredAs answeredAs next { boom answeredAs } } }")
    item = got["data"]["item"]
    assert item["a"] == "a of 3" and item["answeredAs"] == "answeredAs of 3"
    assert item["next"] == {"boom": "ok 4", "answeredAs": "answeredAs of 4"}
    assert item["boom"] is None and [e["path"] for e in got["errors"]] == [["item", "boom"]]


async def test_an_object_selected_many_times_completes_alike_and_keeps_each_error() -> None:
    # `shared` is ROWS[3] on every row: its plain leaves are completed once and reused, but its
    # `boom` raises (3 % 3 == 0), so that selection is completed, its error reported, every time
    got = await both("{ items { shared { id color tags price } again: shared { id boom } } }")
    items = got["data"]["items"]
    assert len(items) == 12
    assert all(
        i["shared"] == {"id": "3", "color": "BLUE", "tags": ["a", "t3"], "price": "3703.50"} for i in items
    )
    assert [e["path"] for e in got["errors"]] == [["items", n, "again", "boom"] for n in range(12)]


async def test_fragments_on_the_interface_and_typename() -> None:
    got = await both(
        """{ nodes { __typename id ... on Item { label note } ...N }
             item(index: 1) { t: __typename ...N node { __typename ... on Item { id color } } } }
           fragment N on Node { id ... on Item { at } }"""
    )
    assert got["data"]["item"]["t"] == "Item"
    assert got["data"]["nodes"][4] is None


async def test_decimal_datetime_enum_and_list_leaves() -> None:
    got = await both("{ item(index: 2) { price at color tags loose } }")
    assert got == {
        "data": {
            "item": {
                "price": "2469.00",
                "at": "2026-01-01T02:00:00+00:00",
                "color": "RED",
                "tags": ["a", "t2"],
                "loose": ["x", None],
            }
        },
        "errors": [],
    }
    await both("{ maybeItems { tags loose } }")  # a null item in [String!]!
    got = await both("{ maybeItems { scores rank } }")  # values Int cannot represent
    assert [e["path"] for e in got["errors"][:3]] == [
        ["maybeItems", 0, "scores", 1],
        ["maybeItems", 2, "rank"],
        ["maybeItems", 4, "scores", 1],
    ]
    assert got["data"]["maybeItems"][:3] == [
        {"scores": [1, None, None], "rank": 0},
        {"scores": [1], "rank": 1},
        {"scores": [2], "rank": None},
    ]


async def test_lean_resolvers_get_a_real_info() -> None:
    got = await both("{ lean { id } item(index: 0) { next { id } } }")
    assert got["data"]["lean"] == {"id": "1"}


async def test_introspection_is_the_same() -> None:
    await both("{ __schema { types { name kind fields { name type { name kind ofType { name } } } } } }")
    await both('{ __type(name: "Item") { name fields { name args { name defaultValue } } } }')


# ---------------------------------------------------------------- the plans


def test_the_plan_takes_the_fast_path_only_for_plain_fields() -> None:
    schema = COMPILED_SCHEMA._schema
    item = schema.get_type("Item")
    query = schema.query_type
    assert isinstance(item, GraphQLObjectType) and query is not None

    def kind(t: GraphQLObjectType, source: str) -> tuple[int, bool]:
        node = _field_node(source)
        plan = compile_field(schema, t, [node])
        return plan.kind, plan.pass_info

    assert kind(item, "{ label }") == (LEAF, False)  # strawberry's basic resolver: no info
    assert compile_field(schema, item, [_field_node("{ label }")]).attr == "label"  # read directly
    assert compile_field(schema, item, [_field_node("{ boom }")]).attr is None
    assert kind(item, "{ __typename }")[0] == TYPENAME
    # a method of `self` alone is called directly, with no info object
    assert kind(item, "{ boom }") == (LEAF, False)
    assert compile_field(schema, item, [_field_node("{ boom }")]).method.__name__ == "boom"
    assert kind(item, "{ next { id } }") == (OBJECT, False)
    assert kind(item, "{ children { id } }") == (LIST, False)
    # ... but not an async one, nor one that reads its info
    assert kind(item, "{ later }") == (LEAF, True)
    assert compile_field(schema, item, [_field_node("{ later }")]).method is None
    assert kind(item, "{ answeredAs }") == (LEAF, True)
    assert kind(item, "{ tags }") == (LIST, False)
    assert kind(item, "{ node { id } }")[0] == STOCK  # abstract
    assert kind(item, "{ greet }")[0] == STOCK  # arguments (strawberry converts them)
    assert kind(query, "{ nodes { id } }")[0] == STOCK  # list of an abstract type
    assert kind(item, "{ label @deprecated }")[0] == STOCK  # a directive it does not know


def _field_node(source: str) -> Any:
    from graphql import parse

    return parse(source).definitions[0].selection_set.selections[0]


async def test_plans_are_cached_per_operation_in_a_bounded_lru(monkeypatch: Any) -> None:
    monkeypatch.setattr(compiled, "OPERATIONS_CACHED", 3)
    schema = make_schema(CompiledExecutor)
    for i in range(5):
        result = await schema.execute(f"{{ item(index: {i}) {{ id color }} }}")
        assert result.data == {"item": {"id": str(i), "color": "BLUE" if i % 2 else "RED"}}
    cached = compiled._cache[schema._schema]
    assert [start for _, start in cached] == [0, 0, 0]
    assert [body for body, _ in cached] == [f"{{ item(index: {i}) {{ id color }} }}" for i in (2, 3, 4)]
    # the same document again: one entry, its shapes reused (root and Item)
    await schema.execute("{ item(index: 4) { id color } }")
    assert len(cached) == 3 and len(next(reversed(cached.values()))) == 2


async def test_shapes_per_operation_are_bounded_and_variables_choose_the_shape(monkeypatch: Any) -> None:
    monkeypatch.setattr(compiled, "SHAPES_PER_OPERATION", 2)
    schema = make_schema(CompiledExecutor)
    query = "query Q($a: Boolean!) { items { id note @include(if: $a) next { id } } }"
    for a in (True, False, True, False):
        await both(query, {"a": a}, schema)
    [shapes] = compiled._cache[schema._schema].values()
    assert len(shapes) == 2  # root and the first Item shape; the others are planned per request


class Upper(SchemaExtension):
    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        result = _next(root, info, *args, **kwargs)
        return result.upper() if isinstance(result, str) else result


async def test_middleware_makes_every_field_take_graphql_cores_path() -> None:
    stock = make_schema(None, [Upper])
    fast = make_schema(CompiledExecutor, [Upper])
    query = "{ maybeItems { label note boom next { label } } }"
    assert outcome(await fast.execute(query)) == outcome(await stock.execute(query))
    assert (await fast.execute("{ item(index: 0) { label } }")).data == {"item": {"label": "LABEL 0"}}


async def test_mutations_run_serially_with_planned_sub_selections() -> None:
    @strawberry.type(description="Writes.")
    class Mutation:
        @strawberry.mutation(description="A row.")
        def touch(self, index: int) -> Item | None:
            return ROWS[index]

    query = "mutation { a: touch(index: 1) { id label boom } b: touch(index: 3) { id label } }"
    results = []
    for cls in (None, CompiledExecutor):
        schema = QuietSchema(query=Query, mutation=Mutation, types=[Item], execution_context_class=cls)
        results.append(outcome(await schema.execute(query)))
    assert results[0] == results[1] and results[0]["errors"]


# ---------------------------------------------------------------- random operations

RUN = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@RUN
@given(operations(STOCK_SCHEMA._schema, depth=4))
def test_random_operations_give_the_same_results(operation: tuple[str, dict[str, bool]]) -> None:
    asyncio.run(both(*operation))


@RUN
@given(from_schema(SDL))
def test_random_hypothesis_graphql_queries_give_the_same_results(document: str) -> None:
    asyncio.run(both(document))
