"""The ``User.variables`` and ``Workspace.secrets`` fields, made here so the types that
carry them import nothing of variables' own types."""

from __future__ import annotations

from typing import Any

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.refs import UserVariableRef, WorkspaceSecretRef


def user_variables_field() -> Any:
    """``variables`` of a user: the viewer's own variables by key, empty for others."""

    async def variables(root: Any, info: Info) -> list[UserVariableRef]:
        from synapse_gql.variables.types import user_variables

        return await user_variables(info, root.db_id)

    return strawberry.field(
        resolver=variables,
        description="Your variables by key (secrets masked); empty for others.",
    )


def workspace_secrets_field() -> Any:
    """``secrets`` of a workspace: its secrets by key for admins and owners."""

    async def secrets(root: Any, info: Info) -> list[WorkspaceSecretRef]:
        from synapse_gql.variables.types import workspace_secrets

        return await workspace_secrets(info, root.db_id)

    return strawberry.field(
        resolver=secrets,
        description="Workspace secrets by key (admins and owners; empty for others).",
    )
