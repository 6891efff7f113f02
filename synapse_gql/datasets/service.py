"""Starting a feedback dataset export: who may, which ranges and filters are valid."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.datasets.links import DatasetRequest
from synapse_gql.errors import InvalidInput
from synapse_gql.models import MemberRole
from synapse_gql.workspaces.access import require_role

# The usage role rule: members and above read a workspace's usage and analytics, and a
# dataset only holds conversations every member can already read, rated public by their
# raters. Viewers are left out, as for usage.
DATASET_ROLE = MemberRole.MEMBER
MAX_RANGE = timedelta(days=3660)
MAX_FILTER_IDS = 50
INPUT = ("input",)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def checked_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """``(start, end)`` in UTC; INVALID_INPUT when ``from`` is not before ``to`` or the
    range spans more than ``MAX_RANGE``."""
    start, end = _utc(start), _utc(end)
    if start >= end:
        raise InvalidInput("`from` must be before `to`.", field=[*INPUT, "from"])
    if end - start > MAX_RANGE:
        raise InvalidInput(f"The range is longer than {MAX_RANGE.days} days.", field=[*INPUT, "to"])
    return start, end


def checked_ids(ids: Sequence[uuid.UUID], name: str) -> tuple[uuid.UUID, ...]:
    """The distinct ids of a filter; INVALID_INPUT over ``MAX_FILTER_IDS`` (they travel in
    the link)."""
    distinct = tuple(dict.fromkeys(ids))
    if len(distinct) > MAX_FILTER_IDS:
        raise InvalidInput(f"At most {MAX_FILTER_IDS} ids.", field=[*INPUT, name])
    return distinct


async def start_export(
    session: AsyncSession,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID,
    span: tuple[datetime, datetime],
    project_ids: Sequence[uuid.UUID] = (),
    llm_ids: Sequence[uuid.UUID] = (),
) -> DatasetRequest:
    """The export ``user_id`` may start: NOT_FOUND outside the workspace, FORBIDDEN under
    ``DATASET_ROLE``, INVALID_INPUT for a bad range or too many ids."""
    start, end = checked_range(*span)
    wanted = DatasetRequest(
        user_id=user_id,
        workspace_id=workspace_id,
        start=start,
        end=end,
        project_ids=checked_ids(project_ids, "projectIds"),
        llm_ids=checked_ids(llm_ids, "llmIds"),
    )
    await require_role(session, workspace_id, user_id, DATASET_ROLE, field=[*INPUT, "workspaceId"])
    return wanted
