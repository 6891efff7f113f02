"""Reads of users for the other features: a user by id, batched per request.

The loader hands out ``User`` rows; the feature's GraphQL types turn them into nodes.
Rows come from the request's shared ``by_id(User)`` batch, so every field that shows
users (whichever feature's type it sits on) reads them in one statement.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from synapse_gql.models import User

if TYPE_CHECKING:
    from synapse_gql.context import Info


class UserLoader:
    """Users of a request by database id (batched)."""

    def __init__(self, info: Info) -> None:
        self.loaders = info.context.loaders

    async def one(self, user_id: uuid.UUID | None) -> User | None:
        """The user row, for a parent the caller was allowed to read; None for None or
        a missing id."""
        if user_id is None:
            return None
        row: User | None = await self.loaders.by_id(User).load(user_id)
        return row
