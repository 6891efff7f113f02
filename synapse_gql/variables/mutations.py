"""Mutations of user variables and workspace secrets."""

from __future__ import annotations

from typing import Annotated

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id, to_global_id
from synapse_gql.variables import service
from synapse_gql.variables.types import (
    DeleteWorkspaceSecretInput,
    SetVariableInput,
    SetWorkspaceSecretInput,
    UserVariableType,
    WorkspaceSecretType,
)
from synapse_gql.workspaces.mutations import Deleted, DeleteResult

UserVariableResult = Annotated[UserVariableType | UserError, strawberry.union("UserVariableResult")]
WorkspaceSecretResult = Annotated[
    WorkspaceSecretType | UserError, strawberry.union("WorkspaceSecretResult")
]


@strawberry.type
class VariableMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Create or replace one of your variables (a secret unless isSecret is false).",
    )
    async def set_variable(self, info: Info, input: SetVariableInput) -> UserVariableResult:
        viewer = info.context.require_viewer()
        keyring = info.context.state.keyring
        async with info.context.state.db.transaction() as session:
            row = await service.set_variable(
                session, keyring, viewer.id, input.key, input.value, input.is_secret
            )
        return UserVariableType.from_row(row)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Delete one of your variables."
    )
    async def delete_variable(self, info: Info, key: str) -> DeleteResult:
        viewer = info.context.require_viewer()
        async with info.context.state.db.transaction() as session:
            deleted = await service.delete_variable(session, viewer.id, key)
        return Deleted(id=to_global_id("UserVariable", deleted))

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Create or replace a workspace secret (admins and owners).",
    )
    async def set_workspace_secret(
        self, info: Info, input: SetWorkspaceSecretInput
    ) -> WorkspaceSecretResult:
        viewer = info.context.require_viewer()
        workspace_id = decode_id(input.workspace_id, "Workspace", field=["input", "workspaceId"])
        keyring = info.context.state.keyring
        async with info.context.state.db.transaction() as session:
            row = await service.set_workspace_secret(
                session, keyring, viewer.id, workspace_id, input.key, input.value
            )
        return WorkspaceSecretType.from_row(row)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Delete a workspace secret (admins and owners).",
    )
    async def delete_workspace_secret(
        self, info: Info, input: DeleteWorkspaceSecretInput
    ) -> DeleteResult:
        viewer = info.context.require_viewer()
        workspace_id = decode_id(input.workspace_id, "Workspace", field=["input", "workspaceId"])
        async with info.context.state.db.transaction() as session:
            deleted = await service.delete_workspace_secret(
                session, viewer.id, workspace_id, input.key
            )
        return Deleted(id=to_global_id("WorkspaceSecret", deleted))
