"""Workspace and membership rules. Services only flush; callers own the transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.dashboards.defaults import create_default_dashboard
from synapse_gql.errors import DomainError, ErrorCode, Forbidden, InvalidInput, NotFound
from synapse_gql.gql import validation
from synapse_gql.models import LLM, MemberRole, Workspace, WorkspaceMember
from synapse_gql.workspaces import repository
from synapse_gql.workspaces.access import require_role

MAX_SETTINGS_BYTES = 16_384


async def _unique_slug(session: AsyncSession, name: str) -> str:
    base = validation.slugify(name)
    candidate, n = base, 1
    while await repository.slug_taken(session, candidate):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _check_settings(settings: Any) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise InvalidInput("Settings must be a JSON object.", field=["input", "settings"])
    if len(json.dumps(settings)) > MAX_SETTINGS_BYTES:
        raise InvalidInput(
            f"Settings are limited to {MAX_SETTINGS_BYTES} bytes.", field=["input", "settings"]
        )
    return settings


async def create_workspace(
    session: AsyncSession, owner_id: uuid.UUID, name: str, slug: str | None, description: str
) -> Workspace:
    """A new workspace whose creator is its owner, with the default dashboard."""
    name = validation.text(name, ["input", "name"])
    if slug is None:
        slug = await _unique_slug(session, name)
    else:
        slug = validation.slug(slug, ["input", "slug"])
        if await repository.slug_taken(session, slug):
            raise DomainError(
                "This slug is taken.", field=["input", "slug"], code=ErrorCode.SLUG_TAKEN
            )
    workspace = Workspace(
        name=name,
        slug=slug,
        description=validation.text(description, ["input", "description"], min_len=0, max_len=2000),
        owner_id=owner_id,
        settings={},
    )
    session.add(workspace)
    await session.flush()
    session.add(WorkspaceMember(workspace_id=workspace.id, user_id=owner_id, role=MemberRole.OWNER))
    await session.flush()
    await create_default_dashboard(session, workspace.id, owner_id)
    return workspace


async def lock_members(
    session: AsyncSession, workspace_id: uuid.UUID, field: Sequence[str] = ("input", "workspaceId")
) -> None:
    """Serialise membership changes of a workspace (see ``repository.lock_workspace``);
    call it first, before any role check. A missing workspace is NOT_FOUND, worded like
    the error a non-member gets."""
    if not await repository.lock_workspace(session, workspace_id):
        raise NotFound("No such workspace.", field=field)


async def load_for_update(
    session: AsyncSession, workspace_id: uuid.UUID, field: Sequence[str] = ("id",)
) -> Workspace:
    workspace = await session.get(Workspace, workspace_id, with_for_update=True)
    if workspace is None:
        raise NotFound("No such workspace.", field=field)
    return workspace


async def update_workspace(
    session: AsyncSession, actor_id: uuid.UUID, workspace_id: uuid.UUID, changes: dict[str, Any]
) -> Workspace:
    """Rename, re-slug, describe, configure; admins and owners only."""
    path = ("input", "id")
    await require_role(session, workspace_id, actor_id, MemberRole.ADMIN, field=path)
    workspace = await load_for_update(session, workspace_id, path)
    if "name" in changes:
        workspace.name = validation.text(changes["name"], ["input", "name"])
    if "description" in changes:
        workspace.description = validation.text(
            changes["description"], ["input", "description"], min_len=0, max_len=2000
        )
    if "slug" in changes:
        slug = validation.slug(changes["slug"], ["input", "slug"])
        if await repository.slug_taken(session, slug, exclude=workspace_id):
            raise DomainError(
                "This slug is taken.", field=["input", "slug"], code=ErrorCode.SLUG_TAKEN
            )
        workspace.slug = slug
    if "settings" in changes:
        workspace.settings = _check_settings(changes["settings"])
    if "default_llm_id" in changes:
        workspace.default_llm_id = await _active_llm(
            session, changes["default_llm_id"], ["input", "defaultLlmId"]
        )
    if "fallback_llm_id" in changes:
        workspace.fallback_llm_id = await _active_llm(
            session, changes["fallback_llm_id"], ["input", "fallbackLlmId"]
        )
    await session.flush()
    return workspace


async def _active_llm(
    session: AsyncSession, llm_id: uuid.UUID | None, field: list[str]
) -> uuid.UUID | None:
    """``llm_id`` if it names an active catalog model (None stays None); else a UserError on
    ``field``."""
    if llm_id is None:
        return None
    active = await session.scalar(select(LLM.is_active).where(LLM.id == llm_id))
    if active is None:
        raise NotFound("No such model in the catalog.", field=field)
    if not active:
        raise DomainError("This model is not active.", field=field, code=ErrorCode.MODEL_INACTIVE)
    return llm_id


async def delete_workspace(
    session: AsyncSession, actor_id: uuid.UUID, workspace_id: uuid.UUID
) -> None:
    """Delete a workspace and everything in it; owners only."""
    await lock_members(session, workspace_id, ("id",))
    await require_role(session, workspace_id, actor_id, MemberRole.OWNER, field=("id",))
    workspace = await load_for_update(session, workspace_id)
    await session.delete(workspace)
    await session.flush()


async def _target_member(
    session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> WorkspaceMember:
    target = await repository.member(session, workspace_id, user_id, lock=True)
    if target is None:
        raise NotFound("This user is not a member of the workspace.", field=["input", "userId"])
    return target


async def _ensure_not_last_owner(session: AsyncSession, target: WorkspaceMember) -> None:
    if (
        target.role is MemberRole.OWNER
        and await repository.owner_count(session, target.workspace_id) <= 1
    ):
        raise DomainError(
            "A workspace keeps at least one owner: make someone else owner first.",
            field=["input", "userId"],
            code=ErrorCode.LAST_OWNER,
        )


async def change_role(
    session: AsyncSession,
    actor_id: uuid.UUID,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    role: MemberRole,
) -> WorkspaceMember:
    """Change a member's role. Only owners grant or take away ownership."""
    await lock_members(session, workspace_id)
    actor_role = await require_role(session, workspace_id, actor_id, MemberRole.ADMIN)
    target = await _target_member(session, workspace_id, user_id)
    touches_owner = MemberRole.OWNER in (role, target.role)
    if touches_owner and actor_role is not MemberRole.OWNER:
        raise Forbidden(
            "Only an owner can grant or change the owner role.", field=["input", "role"]
        )
    if target.role is MemberRole.OWNER and role is not MemberRole.OWNER:
        await _ensure_not_last_owner(session, target)
    target.role = role
    await session.flush()
    return target


async def remove_member(
    session: AsyncSession, actor_id: uuid.UUID, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> WorkspaceMember:
    """Remove a member, or leave.

    Admins remove non-owners; owners remove anyone but the last owner.
    """
    await lock_members(session, workspace_id)
    if actor_id == user_id:
        actor_role = await require_role(session, workspace_id, actor_id, MemberRole.VIEWER)
    else:
        actor_role = await require_role(session, workspace_id, actor_id, MemberRole.ADMIN)
    target = await _target_member(session, workspace_id, user_id)
    if target.role is MemberRole.OWNER and actor_role is not MemberRole.OWNER:
        raise Forbidden("Only an owner can remove an owner.", field=["input", "userId"])
    await _ensure_not_last_owner(session, target)
    await session.delete(target)
    await session.flush()
    return target
