"""GraphQL types of user variables and workspace secrets: values are masked, never shown."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from synapse_gql.accounts.types import UserType, load_user
from synapse_gql.context import Info
from synapse_gql.gql.refs import WorkspaceRef
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import MemberRole, UserVariable, WorkspaceSecret
from synapse_gql.variables.loaders import VariableLoader
from synapse_gql.variables.service import masked
from synapse_gql.workspaces.access import viewer_role


@strawberry.type(
    name="UserVariable",
    description="One of your variables. A secret's value is never returned, only masked.",
)
class UserVariableType(Node):
    db_id: strawberry.Private[uuid.UUID]
    ciphertext: strawberry.Private[str]
    key: str
    is_secret: bool
    masked_value: str = strawberry.field(
        description="`••••` and the last four characters (only those of a value of 12 or more)."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: UserVariable) -> UserVariableType:
        return cls(
            id=to_global_id("UserVariable", row.id),
            db_id=row.id,
            ciphertext=row.value_encrypted,
            key=row.key,
            is_secret=row.is_secret,
            masked_value=masked(row.last_four),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field(description="The value in clear when it is not a secret; null for secrets.")
    def value(self, info: Info) -> str | None:
        if self.is_secret:
            return None
        return info.context.state.keyring.decrypt(self.ciphertext)


@strawberry.type(
    name="WorkspaceSecret",
    description="A workspace-wide secret such as a provider API key; only its mask is shown.",
)
class WorkspaceSecretType(Node):
    db_id: strawberry.Private[uuid.UUID]
    workspace_id: strawberry.Private[uuid.UUID]
    created_by_id: strawberry.Private[uuid.UUID | None]
    key: str
    masked_value: str = strawberry.field(
        description="`••••` and the last four characters (only those of a value of 12 or more)."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: WorkspaceSecret) -> WorkspaceSecretType:
        return cls(
            id=to_global_id("WorkspaceSecret", row.id),
            db_id=row.id,
            workspace_id=row.workspace_id,
            created_by_id=row.created_by_id,
            key=row.key,
            masked_value=masked(row.last_four),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field(description="Who last set the value.")
    async def created_by(self, info: Info) -> UserType | None:
        return await load_user(info, self.created_by_id)

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceRef | None:
        from synapse_gql.workspaces.types import load_workspace

        return await load_workspace(info, self.workspace_id)


async def user_variables(info: Info, user_id: uuid.UUID) -> list[UserVariableType]:
    """The variables of ``user_id`` by key when that is the viewer; empty for anyone else."""
    viewer = info.context.viewer
    if viewer is None or viewer.id != user_id:
        return []
    rows = await VariableLoader(info).of_user(user_id)
    return [UserVariableType.from_row(row) for row in rows]


async def workspace_secrets(info: Info, workspace_id: uuid.UUID) -> list[WorkspaceSecretType]:
    """A workspace's secrets by key for its admins and owners; empty for anyone else."""
    role = await viewer_role(info, workspace_id)
    if role is None or role.rank < MemberRole.ADMIN.rank:
        return []
    rows = await VariableLoader(info).secrets_of(workspace_id)
    return [WorkspaceSecretType.from_row(row) for row in rows]


@strawberry.input
class SetVariableInput:
    key: str
    value: str
    is_secret: bool = True


@strawberry.input
class SetWorkspaceSecretInput:
    workspace_id: strawberry.ID
    key: str
    value: str


@strawberry.input
class DeleteWorkspaceSecretInput:
    workspace_id: strawberry.ID
    key: str
