"""Workspace-wide live feeds (usage, alerts): open to holders of a role in the workspace,
refused at once to others, ended with a refusal when the viewer loses the role."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TypeVar

import strawberry

from synapse_gql.context import Info
from synapse_gql.errors import DomainError
from synapse_gql.gql.errors import SubscriptionRefused
from synapse_gql.gql.relay import decode_id
from synapse_gql.models import MemberRole
from synapse_gql.realtime.admission import subscribe_slot
from synapse_gql.realtime.guard import watched
from synapse_gql.workspaces.access import require_role

T = TypeVar("T")

WORKSPACE_PATH = ["workspaceId"]


async def _holder(info: Info, workspace_id: strawberry.ID, role: MemberRole) -> uuid.UUID:
    viewer = info.context.require_viewer()
    decoded = decode_id(workspace_id, "Workspace", field=WORKSPACE_PATH)
    async with info.context.sessions() as session:
        await require_role(session, decoded, viewer.id, role, field=WORKSPACE_PATH)
    return decoded


async def workspace_feed(
    info: Info,
    workspace_id: strawberry.ID,
    role: MemberRole,
    events_of: Callable[[uuid.UUID], AsyncIterator[T]],
) -> AsyncIterator[T | SubscriptionRefused]:
    """The events ``events_of`` gives for the workspace while the viewer holds ``role``
    (re-checked when access news for the viewer arrives)."""
    check = partial(_holder, info, workspace_id, role)
    try:
        async with subscribe_slot(info.context.state):
            decoded = await check()
    except DomainError as error:
        yield SubscriptionRefused.from_exception(error)
        return
    async for event in watched(info, check, events_of(decoded)):
        yield event
