"""Reads of projects for the other features: a project by id, batched per request.

The loader hands out ``Project`` rows; the feature's GraphQL types turn them into nodes.
Rows come from the request's shared ``by_id(Project)`` batch, so every field that shows
projects (whichever feature's type it sits on) reads them in one statement.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from synapse_gql.models import Project

if TYPE_CHECKING:
    from synapse_gql.context import Info


class ProjectLoader:
    """Projects of a request by database id (batched)."""

    def __init__(self, info: Info) -> None:
        self.loaders = info.context.loaders

    async def one(self, project_id: uuid.UUID | None) -> Project | None:
        """The project row, for a parent the caller was allowed to read; None for None or
        a missing id."""
        if project_id is None:
            return None
        row: Project | None = await self.loaders.by_id(Project).load(project_id)
        return row
