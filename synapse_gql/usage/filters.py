"""Filters shared by the usage and billing lists: a time range and the viewer's workspaces."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Select, select

from synapse_gql.errors import InvalidInput
from synapse_gql.gql.pagination import ColumnExpr
from synapse_gql.models import MemberRole, WorkspaceMember


def as_utc(moment: datetime | None) -> datetime | None:
    """``moment`` with a time zone; a naive value is taken as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def time_range(
    column: ColumnExpr, since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    """``since <= column < until``, either bound optional; INVALID_INPUT when empty."""
    since, until = as_utc(since), as_utc(until)
    if since is not None and until is not None and until <= since:
        raise InvalidInput("`until` must be later than `since`.", field=["until"])
    terms: list[ColumnElement[bool]] = []
    if since is not None:
        terms.append(column >= since)
    if until is not None:
        terms.append(column < until)
    return terms


def viewer_workspaces(user_id: uuid.UUID, minimum: MemberRole) -> Select[uuid.UUID]:
    """Ids of the workspaces where ``user_id`` has ``minimum`` or a higher role."""
    roles = [role for role in MemberRole if role.rank >= minimum.rank]
    return select(WorkspaceMember.workspace_id).where(
        WorkspaceMember.user_id == user_id, WorkspaceMember.role.in_(roles)
    )
