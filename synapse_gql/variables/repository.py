"""SQL for user variables and workspace secrets: upserts by natural key, deletes, lookups."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.models import UserVariable, WorkspaceSecret


async def upsert_variable(
    session: AsyncSession,
    user_id: uuid.UUID,
    key: str,
    ciphertext: str,
    is_secret: bool,
    last_four: str,
) -> UserVariable:
    """Insert the user's variable, or replace its value when ``key`` already exists."""
    values = {"value_encrypted": ciphertext, "is_secret": is_secret, "last_four": last_four}
    stmt = insert(UserVariable).values(user_id=user_id, key=key, **values)
    upsert = stmt.on_conflict_do_update(
        index_elements=[UserVariable.user_id, UserVariable.key],
        set_={**values, "updated_at": func.now()},
    ).returning(UserVariable)
    options = {"populate_existing": True}
    return (await session.scalars(upsert, execution_options=options)).one()


async def upsert_secret(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    key: str,
    ciphertext: str,
    last_four: str,
    actor_id: uuid.UUID,
) -> WorkspaceSecret:
    """Insert the workspace's secret, or replace its value (and author) when ``key`` exists."""
    values = {"value_encrypted": ciphertext, "last_four": last_four, "created_by_id": actor_id}
    stmt = insert(WorkspaceSecret).values(workspace_id=workspace_id, key=key, **values)
    upsert = stmt.on_conflict_do_update(
        index_elements=[WorkspaceSecret.workspace_id, WorkspaceSecret.key],
        set_={**values, "updated_at": func.now()},
    ).returning(WorkspaceSecret)
    options = {"populate_existing": True}
    return (await session.scalars(upsert, execution_options=options)).one()


async def delete_variable(session: AsyncSession, user_id: uuid.UUID, key: str) -> uuid.UUID | None:
    """Delete the user's variable ``key``; its id, or None when there was none."""
    stmt = (
        delete(UserVariable)
        .where(UserVariable.user_id == user_id, UserVariable.key == key)
        .returning(UserVariable.id)
    )
    return await session.scalar(stmt)


async def delete_secret(
    session: AsyncSession, workspace_id: uuid.UUID, key: str
) -> uuid.UUID | None:
    """Delete the workspace's secret ``key``; its id, or None when there was none."""
    stmt = (
        delete(WorkspaceSecret)
        .where(WorkspaceSecret.workspace_id == workspace_id, WorkspaceSecret.key == key)
        .returning(WorkspaceSecret.id)
    )
    return await session.scalar(stmt)


async def variable_ciphertext(session: AsyncSession, user_id: uuid.UUID, key: str) -> str | None:
    stmt = select(UserVariable.value_encrypted).where(
        UserVariable.user_id == user_id, UserVariable.key == key
    )
    return await session.scalar(stmt)


async def secret_ciphertext(session: AsyncSession, workspace_id: uuid.UUID, key: str) -> str | None:
    stmt = select(WorkspaceSecret.value_encrypted).where(
        WorkspaceSecret.workspace_id == workspace_id, WorkspaceSecret.key == key
    )
    return await session.scalar(stmt)
