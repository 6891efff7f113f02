"""Reads of variables and secrets for the other features: a user's variables and a
workspace's secrets by key, batched per request. Callers decide who may see them."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from synapse_gql.models import UserVariable, WorkspaceSecret

if TYPE_CHECKING:
    from synapse_gql.context import Info


class VariableLoader:
    """User variables and workspace secrets of a request, by owner (batched)."""

    def __init__(self, info: Info) -> None:
        self.loaders = info.context.loaders

    async def of_user(self, user_id: uuid.UUID) -> list[UserVariable]:
        """The user's variables, by key."""
        loader = self.loaders.children(
            UserVariable, UserVariable.user_id, order_by=[UserVariable.key]
        )
        variables: list[UserVariable] = await loader.load(user_id)
        return variables

    async def secrets_of(self, workspace_id: uuid.UUID) -> list[WorkspaceSecret]:
        """The workspace's secrets, by key."""
        loader = self.loaders.children(
            WorkspaceSecret, WorkspaceSecret.workspace_id, order_by=[WorkspaceSecret.key]
        )
        secrets: list[WorkspaceSecret] = await loader.load(workspace_id)
        return secrets
