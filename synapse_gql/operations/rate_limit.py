"""Rate limits in query cost points, and in model calls, per minute.

Each caller has a bucket per fixed one-minute window: an API token, a user (login
token) or, without a token, the client address. An operation takes its cost from the
bucket before it runs, or is refused whole when the bucket lacks the points. Mutations
that call a model also take one call per such field from the caller's model-call bucket.
The counters live in the shared :class:`CounterStore` (Redis when configured).
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

from synapse_gql.budgets.caller import request_api_token
from synapse_gql.config import Settings
from synapse_gql.operations.token_limits import TokenLimitCache
from synapse_gql.security.throttle import PREFIX, CounterStore

WINDOW = 60.0
# The mutations that call a model: each one in an operation counts as one model call.
MODEL_FIELDS = frozenset({"sendMessage", "regenerateMessage", "editMessage", "generate"})


@dataclass(frozen=True)
class Caller:
    """Whose bucket an operation draws from, and its limits per minute."""

    key: str
    points: int
    model_calls: int | None  # None: anonymous callers cannot call models


@lru_cache(maxsize=64)
def utc_seconds(epoch: int) -> str:
    """``epoch`` (whole seconds) as ``YYYY-MM-DDTHH:MM:SSZ`` (kept: every operation of a
    second reports one of a few instants)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass(frozen=True)
class Spent:
    """The state of a bucket after an operation asked it for ``cost`` points."""

    ok: bool
    limit: int
    cost: int
    remaining: int
    resets_in: float

    @property
    def reset_seconds(self) -> int:
        """Whole seconds until the window ends (at least 1: the window is still open)."""
        return max(1, math.ceil(self.resets_in))

    def report(self) -> dict[str, object]:
        """``extensions.rateLimit``; ``resetAt`` is ``RateLimit-Reset`` seconds from now."""
        return {
            "limit": self.limit,
            "cost": self.cost,
            "remaining": self.remaining,
            "resetAt": utc_seconds(int(time.time()) + self.reset_seconds),
        }

    def headers(self) -> dict[str, str]:
        """The ``RateLimit-*`` headers."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


class RateLimits:
    """The points and model-call limits of every caller, over one counter store."""

    def __init__(self, store: CounterStore, settings: Settings, tokens: TokenLimitCache) -> None:
        self.store = store
        self.settings = settings
        self.tokens = tokens

    async def caller(self, user_id: uuid.UUID | None, address: str) -> Caller:
        """The bucket of the current request: its API token, else its user, else address."""
        settings = self.settings
        token_id = request_api_token() if user_id is not None else None
        if token_id is not None:
            own = await self.tokens.get(token_id)
            return Caller(
                f"token:{token_id}",
                own.points_per_minute or settings.rate_limit_api_token_points,
                own.model_calls_per_minute or settings.rate_limit_model_calls,
            )
        if user_id is not None:
            return Caller(
                f"user:{user_id}", settings.rate_limit_user_points, settings.rate_limit_model_calls
            )
        return Caller(f"address:{address}", settings.rate_limit_anonymous_points, None)

    async def spend(self, caller: Caller, cost: int) -> Spent:
        """Take ``cost`` points from the caller's bucket when it has them."""
        taken = await self.store.take(self._key("points", caller), cost, caller.points, WINDOW)
        return Spent(
            taken.ok, caller.points, cost, max(caller.points - taken.used, 0), taken.resets_in
        )

    async def refund(self, caller: Caller, cost: int) -> None:
        """Give back points taken for an operation that was then refused."""
        await self.store.take(self._key("points", caller), -cost, caller.points, WINDOW)

    async def call_models(self, caller: Caller, calls: int) -> float | None:
        """Count ``calls`` model calls; None when allowed, else seconds until allowed."""
        if caller.model_calls is None or calls == 0:
            return None
        key = self._key("model-calls", caller)
        taken = await self.store.take(key, calls, caller.model_calls, WINDOW)
        return None if taken.ok else taken.resets_in

    @staticmethod
    def _key(kind: str, caller: Caller) -> str:
        return f"{PREFIX}:{kind}:{caller.key}"
