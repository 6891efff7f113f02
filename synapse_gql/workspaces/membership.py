"""The membership predicate of every read: which workspaces a user may read.

One function, used by the resolvers' loaders and lists (workspaces, conversations,
messages, usage, billing, analytics) and embedded by the compiled read path, so both
paths authorize with the same SQL. It imports only models: loaders may use it.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select

from synapse_gql.models import MemberRole, WorkspaceMember

LOWEST_ROLE = min(MemberRole, key=lambda role: role.rank)


def readable_workspaces(user_id: uuid.UUID, minimum: MemberRole = LOWEST_ROLE) -> Select[Any]:
    """Ids of the workspaces where ``user_id`` holds ``minimum`` or a higher role (any role
    by default)."""
    stmt = select(WorkspaceMember.workspace_id).where(WorkspaceMember.user_id == user_id)
    if minimum is LOWEST_ROLE:
        return stmt
    roles = [role for role in MemberRole if role.rank >= minimum.rank]
    return stmt.where(WorkspaceMember.role.in_(roles))
