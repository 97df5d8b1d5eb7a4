"""To-one relations of a root page (or a root lookup), joined into its own statement.

A board's page selects its deals' customer, contact, owner and stage: four loader batches,
four statements and round trips after the page. A to-one relation of one hop (the owner's
foreign key to the target's id) can instead ride in the page's statement as a LEFT JOIN of the
target, with the columns the operation reads of it (app/graphql/reads.py). The target objects
built from the joined columns go into the request's `by_id` loader, so the prefetch plan finds
them there and the relation fields read them from the same cache as ever: the loaders stay the
one way relations are read, and what is not joined (a path of several hops, a to-many
relation, an entity without a plan, a second relation to a table already joined) is loaded by
them as before.

Visibility is unchanged: the tenancy hook adds its criteria for the joined entity to the
outer join's ON clause, so a target the caller may not see joins as NULLs, and the loader
learns None for its key: what a lookup of it answers.
A root lookup by id (`opportunity(id:)`, a deal page) joins the same way: its statement has no
filter or order to correlate to anything. It is one statement per lookup, where the by-id batch
served every lookup of an operation at once, so an operation of many aliased lookups trades one
statement per relation for one per lookup.

The target is joined as itself, not as an alias (the hook's fixed criteria are not adapted to
aliases), so a page is joined only when nothing else in its statement could correlate to the
joined table: no filter (relation filters are EXISTS subqueries over those tables) and an order
of the page's own columns (`CUSTOMER_NAME` is a subquery over customers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.sql.util import find_tables

from app.graphql import prefetch, reads, registry
from app.graphql.loaders import Loaders, build_one


@dataclass(frozen=True)
class Join:
    """One joined relation: the owner's foreign key, the target and the columns read of it."""

    index: int
    fk: Any  # the owner's foreign key column (ORM attribute)
    entity: registry.Entity
    columns: tuple[Any, ...]
    names: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        return (self.fk.key, self.entity.name, self.names)

    def label(self, name: str) -> str:
        return f"_j{self.index}_{name}"


def plan(info: Any, e: registry.Entity, filtered: bool, order: Sequence[Any]) -> tuple[Join, ...]:
    """The to-one relations selected on a root page's nodes that its statement can join."""
    if reads.current.get() is None or filtered or not all(_own(e, key.expr) for key in order):
        return ()
    return _joinable(e, prefetch.to_one_below_connection(info))


def plan_object(info: Any, e: registry.Entity) -> tuple[Join, ...]:
    """The to-one relations selected on the one object a root lookup returns (`opportunity(id:)`),
    which its statement (by primary key, nothing else to correlate to) can join."""
    if reads.current.get() is None:
        return ()
    return _joinable(e, prefetch.to_one_below_object(info))


def _joinable(e: registry.Entity, relations: Sequence[tuple[str, Any]]) -> tuple[Join, ...]:
    joins: list[Join] = []
    tables = {e.model.__table__}
    for _, relation in relations:
        path: Sequence[Any] = getattr(relation, "path", ())
        if len(path) != 1:
            continue  # several hops: the loaders walk them
        _, fk, target = path[0]
        te = registry.get(target)
        columns, names = reads.columns(te)
        table = te.model.__table__
        if table in tables or names is None or not _plain(te, columns):
            continue
        tables.add(table)
        joins.append(Join(len(joins), fk, te, columns, tuple(c.key for c in columns)))
    return tuple(joins)


def _own(e: registry.Entity, expr: Any) -> bool:
    """Whether an order key reads only the page's own table (no subquery of another)."""
    return set(find_tables(expr)) <= {e.model.__table__}


def _plain(e: registry.Entity, columns: Sequence[Any]) -> bool:
    # a computed column (an item's base rate) is an expression of the table, not of an alias
    table = e.model.__table__.columns
    return all(c.key in table for c in columns)


def joined(stmt: Any, joins: Sequence[Join]) -> Any:
    """`stmt` (the page's select) with each join and its labelled columns."""
    for join in joins:
        target = join.entity.model
        stmt = stmt.outerjoin(target, target.id == join.fk).add_columns(
            *(getattr(target, name).label(join.label(name)) for name in join.names)
        )
    return stmt


def prime(loaders: Loaders, joins: Sequence[Join], rows: Sequence[Any]) -> None:
    """Put the joined targets of `rows` into the request's `by_id` loaders."""
    if not rows or not joins:
        return
    fields = rows[0]._fields
    for join in joins:
        at = [fields.index(join.label(name)) for name in join.names]  # once per page
        id_at, fk_at = at[join.names.index("id")], fields.index(join.fk.key)
        loader = loaders.by_id(join.entity)
        known = loader.values
        for row in rows:
            key = row[fk_at]
            if key is None or key in known:
                continue
            if row[id_at] is None:  # missing, or not the caller's to see: what a lookup answers
                loader.known(key, None)
            else:
                loader.known(key, build_one(join.entity, [row[i] for i in at], join.names))
