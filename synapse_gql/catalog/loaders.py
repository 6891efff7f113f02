"""Reads of catalog models for the other features: a model by id, batched per request.

The loader hands out ``LLM`` rows; the feature's GraphQL types turn them into nodes.
Rows come from the request's shared ``by_id(LLM)`` batch, so every field that shows
catalog models (whichever feature's type it sits on) reads them in one statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from synapse_gql.models import LLM

if TYPE_CHECKING:
    from synapse_gql.context import Info


class LLMLoader:
    """Catalog models of a request by database id (batched)."""

    def __init__(self, info: Info) -> None:
        self.loaders = info.context.loaders

    async def one(self, llm_id: uuid.UUID | None) -> LLM | None:
        """The model row, for a parent the caller was allowed to read; None for None or
        a missing id."""
        if llm_id is None:
            return None
        row: LLM | None = await self.loaders.by_id(LLM).load(llm_id)
        return row

    async def many(self, ids: Sequence[uuid.UUID]) -> list[LLM | None]:
        """The rows of ``ids`` in order, None where missing."""
        rows: list[LLM | None] = await self.loaders.by_id(LLM).load_many(list(ids))
        return rows
