"""Creating, changing and deleting dashboards. Members and above create them; a private
dashboard is its owner's alone (others get NOT_FOUND), a shared one is read by every
member and changed by its owner or the workspace's admins.

The service only flushes; the mutation owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.dashboards.documents import DocumentChecker
from synapse_gql.dashboards.widgets import WidgetSpec, replace_widgets
from synapse_gql.errors import Forbidden, InvalidInput, NotFound
from synapse_gql.gql import validation
from synapse_gql.gql.relay import to_global_id
from synapse_gql.models import Dashboard, MemberRole
from synapse_gql.workspaces.access import require_role, role_of

MAX_WIDGETS = 24
WIDGETS_PATH = ("input", "widgets")
DASHBOARD_PATH = ("input", "dashboardId")


@dataclass(frozen=True, kw_only=True)
class DashboardChanges:
    """What ``updateDashboard`` changes; None leaves a part as it is."""

    name: str | None = None
    shared: bool | None = None
    widgets: Sequence[WidgetSpec] | None = None


def _checked_widgets(
    checker: DocumentChecker, workspace_id: uuid.UUID, widgets: Sequence[WidgetSpec]
) -> list[WidgetSpec]:
    if len(widgets) > MAX_WIDGETS:
        raise InvalidInput(f"A dashboard has at most {MAX_WIDGETS} widgets.", field=WIDGETS_PATH)
    workspace = to_global_id("Workspace", workspace_id)
    return [
        checker.widget(spec, workspace, [*WIDGETS_PATH, str(index)])
        for index, spec in enumerate(widgets)
    ]


async def create_dashboard(
    session: AsyncSession,
    checker: DocumentChecker,
    actor_id: uuid.UUID,
    workspace_id: uuid.UUID,
    name: str,
    shared: bool,
    widgets: Sequence[WidgetSpec],
) -> Dashboard:
    """A dashboard of the actor's in the workspace (members and above)."""
    await require_role(session, workspace_id, actor_id, MemberRole.MEMBER)
    dashboard = Dashboard(
        workspace_id=workspace_id,
        owner_id=actor_id,
        name=validation.text(name, ["input", "name"]),
        shared=shared,
    )
    checked = _checked_widgets(checker, workspace_id, widgets)
    session.add(dashboard)
    await session.flush()
    await replace_widgets(session, dashboard.id, checked)
    return dashboard


async def _editable(
    session: AsyncSession, actor_id: uuid.UUID, dashboard_id: uuid.UUID
) -> Dashboard:
    """The dashboard, locked, when the actor may change it."""
    dashboard = await session.get(Dashboard, dashboard_id, with_for_update=True)
    role = None if dashboard is None else await role_of(session, dashboard.workspace_id, actor_id)
    if dashboard is None or role is None:
        raise NotFound("No such dashboard.", field=DASHBOARD_PATH)
    if dashboard.owner_id != actor_id:
        if not dashboard.shared:
            raise NotFound("No such dashboard.", field=DASHBOARD_PATH)
        if role.rank < MemberRole.ADMIN.rank:
            message = "A shared dashboard is changed by its owner or the workspace's admins."
            raise Forbidden(message, field=DASHBOARD_PATH)
    return dashboard


async def update_dashboard(
    session: AsyncSession,
    checker: DocumentChecker,
    actor_id: uuid.UUID,
    dashboard_id: uuid.UUID,
    changes: DashboardChanges,
) -> Dashboard:
    """Rename, share or unshare (the owner only), or replace the widgets (as a whole list)."""
    dashboard = await _editable(session, actor_id, dashboard_id)
    if changes.shared is not None and dashboard.owner_id != actor_id:
        raise Forbidden("Only its owner shares or unshares a dashboard.", field=["input", "shared"])
    if changes.name is not None:
        dashboard.name = validation.text(changes.name, ["input", "name"])
    if changes.shared is not None:
        dashboard.shared = changes.shared
    if changes.widgets is not None:
        checked = _checked_widgets(checker, dashboard.workspace_id, changes.widgets)
        await replace_widgets(session, dashboard.id, checked)
    dashboard.updated_at = func.now()
    await session.flush()
    return dashboard


async def delete_dashboard(
    session: AsyncSession, actor_id: uuid.UUID, dashboard_id: uuid.UUID
) -> None:
    """Delete a dashboard and its widgets."""
    dashboard = await _editable(session, actor_id, dashboard_id)
    await session.delete(dashboard)
    await session.flush()
