"""Reads of tags for the other features: the tags of conversations, messages and projects,
batched per request (one statement for every entity of a kind a request shows)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from synapse_gql.models import Tag
from synapse_gql.tags import repository

if TYPE_CHECKING:
    from synapse_gql.context import Info


class TagLoader:
    """Tags of a request's taggable entities, by name."""

    def __init__(self, info: Info) -> None:
        self.info = info

    async def of(self, kind: str, entity_id: uuid.UUID) -> list[Tag]:
        """The tags of the ``kind`` (conversation, message, project) entity ``entity_id``,
        for an entity the caller was allowed to read."""

        async def batch(ids: Sequence[uuid.UUID]) -> list[list[Tag]]:
            grouped: dict[uuid.UUID, list[Tag]] = defaultdict(list)
            async with self.info.context.sessions() as session:
                for entity, tag in (await session.execute(repository.tags_of(kind, ids))).all():
                    grouped[entity].append(tag)
            return [grouped.get(i, []) for i in ids]

        tags: list[Tag] = await self.info.context.loaders.get(("tags_of", kind), batch).load(
            entity_id
        )
        return tags
