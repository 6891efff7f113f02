"""``node`` resolution of projects."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from synapse_gql.context import Info
from synapse_gql.gql.relay import register_node
from synapse_gql.models import Project
from synapse_gql.projects.types import ProjectType
from synapse_gql.workspaces.access import visible_rows


async def _projects(info: Info, ids: Sequence[uuid.UUID]) -> list[ProjectType | None]:
    rows = await visible_rows(info, Project, ids)
    return [None if r is None else ProjectType.from_row(r) for r in rows]


register_node("Project", _projects)
