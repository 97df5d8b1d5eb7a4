"""One generic compiler from filter, order and page inputs to SQLAlchemy statements.

Nothing here knows an entity by name, but for the deal filter's own fields (tags,
custom field values, search) in `predicates`. A filter input class is registered with a
`FilterSpec` (its model, and the few fields that are not plain columns); the
compiler walks the input's fields and turns scalar filters into predicates on
columns, entity filters into `IN (SELECT …)` relation predicates at any depth,
and `and`/`or`/`not` into boolean algebra. Ordering keys become ORDER BY terms
with explicit NULL placement plus the id as a tie-breaker; cursors carry every
key's value, so keyset pagination neither skips nor repeats rows when keys repeat
or are NULL. Tenancy is not applied here: `app.tenancy` adds it to every statement.
"""

from app.query.filters import (
    COMBINATORS,
    MAX_IN_VALUES,
    SCALAR_OPS,
    FilterSpec,
    Hop,
    Relation,
    check_scalar,
    compile_filter,
    compile_scalar,
    constrains,
    filter_spec,
    negate,
    scalar_filter,
    walk,
)
from app.query.order import OrderKey, decode_cursor, encode_cursor, order_keys, rows_after
from app.query.pages import (
    PageArgs,
    PagePlan,
    PageResult,
    key_labels,
    paged,
    paged_per_parent,
    plan_page,
    read_page,
)
from app.query.predicates import custom_fields, external_ids, search, tags
from app.query.sql import (
    SEARCH_INDEXES,
    Expr,
    contains_text,
    ends_with_text,
    in_rows,
    like_escape,
    search_document,
    starts_with_text,
    text_match,
    word_search,
)

__all__ = [
    "COMBINATORS",
    "MAX_IN_VALUES",
    "SCALAR_OPS",
    "SEARCH_INDEXES",
    "Expr",
    "FilterSpec",
    "Hop",
    "OrderKey",
    "PageArgs",
    "PagePlan",
    "PageResult",
    "Relation",
    "check_scalar",
    "compile_filter",
    "compile_scalar",
    "constrains",
    "contains_text",
    "custom_fields",
    "decode_cursor",
    "encode_cursor",
    "ends_with_text",
    "external_ids",
    "filter_spec",
    "in_rows",
    "key_labels",
    "like_escape",
    "negate",
    "order_keys",
    "paged",
    "paged_per_parent",
    "plan_page",
    "read_page",
    "rows_after",
    "scalar_filter",
    "search",
    "search_document",
    "starts_with_text",
    "tags",
    "text_match",
    "walk",
    "word_search",
]
