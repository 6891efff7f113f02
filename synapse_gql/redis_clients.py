"""Redis clients for short commands issued by many tasks at once.

redis-py's default pool refuses a command outright ("Too many connections") once every
connection is busy; a burst of a thousand subscribers or requests would turn into errors.
These clients share a bounded blocking pool instead: a command waits for a free connection
(at most ``timeout`` seconds) rather than failing.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

MAX_CONNECTIONS = 64
CHECKOUT_TIMEOUT_SECONDS = 5.0


def pooled_client(url: str, name: str, *, max_connections: int = MAX_CONNECTIONS) -> Redis:
    """A client of ``url`` named ``name``, on a blocking pool of ``max_connections``."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=CHECKOUT_TIMEOUT_SECONDS,
        client_name=name,
    )
    return Redis(connection_pool=pool)
