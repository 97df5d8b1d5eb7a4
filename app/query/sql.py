"""SQL spellings per dialect: case-sensitive text matching, word search, and IN as an array."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, Select, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

Expr = Any  # a SQL expression: a mapped column, a labeled expression or a scalar subquery


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class text_match(FunctionElement[bool]):
    """A case-sensitive contains / startsWith / endsWith, spelled per dialect.

    PostgreSQL's LIKE is case-sensitive (and a prefix LIKE can use an index); SQLite's
    LIKE ignores ASCII case, so there the test is spelled with instr and substr. One
    subclass per kind keeps the kind in SQLAlchemy's statement cache key.
    """

    type = Boolean()
    inherit_cache = True
    pattern = "{}"

    def __init__(self, column: Expr, text: str) -> None:
        pattern = self.pattern.format(like_escape(text))
        super().__init__(column, literal(pattern, String()), literal(text, String()))


class contains_text(text_match):
    name = "contains_text"
    inherit_cache = True
    pattern = "%{}%"


class starts_with_text(text_match):
    name = "starts_with_text"
    inherit_cache = True
    pattern = "{}%"


class ends_with_text(text_match):
    name = "ends_with_text"
    inherit_cache = True
    pattern = "%{}"


@compiles(text_match)
def _text_match_like(element: text_match, compiler: Any, **kw: Any) -> str:
    # only the clauses the SQL shows may be compiled: compiling one registers its bind parameter
    column, pattern, _ = element.clauses
    column, pattern = compiler.process(column, **kw), compiler.process(pattern, **kw)
    return f"({column} LIKE {pattern} ESCAPE '\\')"


@compiles(text_match, "sqlite")
def _text_match_sqlite(element: text_match, compiler: Any, **kw: Any) -> str:
    column, _, text = element.clauses
    column, text = compiler.process(column, **kw), compiler.process(text, **kw)
    if isinstance(element, contains_text):
        return f"(instr({column}, {text}) > 0)"
    if isinstance(element, starts_with_text):
        return f"(substr({column}, 1, length({text})) = {text})"
    return f"(substr({column}, length({column}) - length({text}) + 1) = {text})"


class word_search(FunctionElement[bool]):
    """Rows whose `columns` hold a word starting with `word`: the `search` filter, per dialect.

    PostgreSQL: full-text, `to_tsvector('simple', …) @@ to_tsquery('simple', 'word:*')`, which
    the GIN indexes of migration 0002 serve; the SQL text here must stay exactly the indexed
    expression, so its constants are written inline. SQLite: a case-insensitive substring
    match (which also finds the word inside longer words).
    """

    type = Boolean()
    name = "word_search"
    inherit_cache = True

    def __init__(self, word: str, *columns: Expr) -> None:
        pattern = f"%{like_escape(word.lower())}%"
        super().__init__(literal(f"{word}:*", String()), literal(pattern, String()), *columns)


# The GIN indexes that serve `word_search` on PostgreSQL: name -> (table, columns). Migration
# 0002 creates them; they are not in app.models because autogenerate cannot compare
# expression indexes on SQLite, so the migration test leaves these names out of its diff.
SEARCH_INDEXES = {
    "ix_opportunity_search": ("opportunity", ("title", "description")),
    "ix_customer_search": ("customer", ("name",)),
}


def search_document(columns: Sequence[str]) -> str:
    """The text a GIN index and `word_search` agree on: the columns, NULL as empty, space-joined."""
    return " || ' ' || ".join(f"coalesce({c}, '')" for c in columns)


@compiles(word_search)
def _word_search_pg(element: word_search, compiler: Any, **kw: Any) -> str:
    query, _, *columns = element.clauses
    document = search_document([compiler.process(c, **kw) for c in columns])
    return f"(to_tsvector('simple', {document}) @@ to_tsquery('simple', {compiler.process(query, **kw)}))"


@compiles(word_search, "sqlite")
def _word_search_sqlite(element: word_search, compiler: Any, **kw: Any) -> str:
    _, pattern, *columns = element.clauses
    text = compiler.process(pattern, **kw)
    return (
        "("
        + " OR ".join(f"lower({compiler.process(c, **kw)}) LIKE {text} ESCAPE '\\'" for c in columns)
        + ")"
    )


class in_rows(FunctionElement[bool]):
    """`column IN (subquery)`, spelled `column = ANY (ARRAY(subquery))` on PostgreSQL.

    The array form is computed once (an InitPlan) and can drive an index scan, so an OR
    of it with an indexed condition (`search`: title words OR the customer's name) is a
    BitmapOr instead of a sequential scan testing a hashed subplan on every row.
    """

    type = Boolean()
    name = "in_rows"
    inherit_cache = True

    def __init__(self, column: Expr, rows: Select[Any]) -> None:
        super().__init__(column, rows.scalar_subquery())


@compiles(in_rows)
def _in_rows(element: in_rows, compiler: Any, **kw: Any) -> str:
    column, rows = (compiler.process(c, **kw) for c in element.clauses)
    return f"({column} IN {rows})"


@compiles(in_rows, "postgresql")
def _in_rows_pg(element: in_rows, compiler: Any, **kw: Any) -> str:
    column, rows = (compiler.process(c, **kw) for c in element.clauses)
    return f"({column} = ANY (ARRAY{rows}))"
