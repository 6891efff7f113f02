"""Filters shared by the usage and billing lists: a time range and the viewer's workspaces
(``workspaces.membership.readable_workspaces``, also known here as ``viewer_workspaces``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement

from synapse_gql.errors import InvalidInput
from synapse_gql.gql.pagination import ColumnExpr
from synapse_gql.workspaces.membership import readable_workspaces


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


# The membership predicate under the name the usage, billing and analytics reads import.
viewer_workspaces = readable_workspaces
