"""The change log of deals: written in each mutation's own transaction, read as history and feed.

Contract (docs/changes.md has the reasoning):

- Writing. Every deal mutation goes through `crud.base.touch` (the version bump), `crud.
  opportunities.create` or `delete_many`; they note the deal on the session
  (`record.touch / created / deleting`; a restore from the trash is `created` again). `mutate()` then calls `record.write(session)` after
  the mutation's work (one `opportunity_change` row per deal: kind, version after, the
  changed fields with old/new values in GraphQL serialization, who, the deal's states
  before/after), its feed position drawn inside that INSERT. A mutation
  that rolls back (errors, a lost race, a failure) leaves no row; one that commits always
  has its rows.
- Positions. `seq` is the feed position, assigned in commit order (per
  organization), so a reader that sees position n has seen, or will see in the same
  snapshot, every position below n: following the cursor never skips a change.
  `feed.encode_cursor(seq)` / `feed.decode_cursor(text)` are the opaque cursors.
- Reading. `feed.changes_after(reader, principal, after_seq, first, where)` → `Page`:
  the deliveries after a position that the principal may see and that a compiled
  OpportunityFilter predicate `where` selects on the deal before or after the change; a
  change by which the deal left the caller's sight comes once with `gone=True` (no deal,
  no fields). `reader` is anything with `async rows(stmt)` (`app.db.Database`). Both the
  feed query and the subscription (app/live) use it.
"""

from app.changes.feed import Delivery, Page, changes_after, decode_cursor, encode_cursor
from app.changes.kinds import ChangeKind

__all__ = ["ChangeKind", "Delivery", "Page", "changes_after", "decode_cursor", "encode_cursor"]
