"""Access tokens of HTTP requests already checked, with their viewer, for a few seconds.

A client sends the same access token with every request; verifying its signature and
reading its account each time costs more than the rest of a one-row read. An entry is
kept for ``SYNAPSE_AUTH_CACHE_SECONDS`` (5 by default) and never past the token's own
expiry: an account disabled, deleted or changed in the database is seen by HTTP requests
at most that late (WebSockets and the re-checks of running subscriptions always read the
account); a login through this process forgets its user's tokens at once. Only tokens
that passed are kept; at most ``max_entries``, oldest out first.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synapse_gql.context import Viewer

MAX_ENTRIES = 4096


class TokenCache:
    """Viewers by access token, each until ``seconds`` after it was read (``clock``:
    monotonic seconds) or its token's expiry (``wall``: epoch seconds), whichever is first."""

    def __init__(
        self,
        seconds: float,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._clock = clock
        self._wall = wall
        self._entries: OrderedDict[str, tuple[Viewer, float, float]] = OrderedDict()

    def get(self, token: str) -> Viewer | None:
        """The viewer of ``token`` when it was read recently and the token is unexpired."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        viewer, fresh_until, expires_at = entry
        if self._clock() >= fresh_until or self._wall() >= expires_at:
            del self._entries[token]
            return None
        return viewer

    def put(self, token: str, viewer: Viewer, expires_at: float) -> None:
        """Remember ``viewer`` for ``token`` (which expires at ``expires_at``, epoch seconds)."""
        if self.seconds <= 0:
            return
        self._entries[token] = (viewer, self._clock() + self.seconds, expires_at)
        self._entries.move_to_end(token)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget_user(self, user_id: uuid.UUID) -> None:
        """Forget every token of ``user_id``."""
        for token in [t for t, entry in self._entries.items() if entry[0].id == user_id]:
            del self._entries[token]

    def clear(self) -> None:
        """Forget every token (the next request of each reads its account)."""
        self._entries.clear()
