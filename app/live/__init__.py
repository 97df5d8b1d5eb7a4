"""Live changes: `Subscription.opportunityChanged` over graphql-transport-ws on /graphql (docs/live.md).

In the order a change travels: the mutation commits its change rows (app/changes); the
broker (broker.py) wakes this worker's subscriptions of that organization; each reads the
change log after its own cursor, scoped like every read (changed.py), and sends what it
may see through its connection's bounded queue (socket.py). service.py holds a worker's
sockets, hub and broker.
"""

from app.live.service import Live, live_of
from app.live.socket import LiveSocket

__all__ = ["Live", "LiveSocket", "live_of"]
