"""A ``workspaceMetrics`` subscribe over WebSocket served by a metrics group, inside the
schema's own operation lifecycle (``realtime.fanout.operation``, as an answer's stream):
the schema's extensions run for each subscriber, the set-up (access check, joining the
group) runs in an admission slot, and the viewer's rights are re-checked on access news
(the hub's watches); a refused one ends with ``SubscriptionRefused``. :class:`MetricsSeat`
is what differs: the access check (the usage role in the workspace) and the group."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from synapse_gql.gql.relay import decode_id
from synapse_gql.metrics.groups import MetricsGroup
from synapse_gql.metrics.live import live_metrics_of
from synapse_gql.metrics.snapshot import MetricsWindow
from synapse_gql.realtime.fanout.operation import FeedOperation
from synapse_gql.realtime.fanout.seat import Seat
from synapse_gql.realtime.fanout.subscriber import Subscriber
from synapse_gql.usage.queries import USAGE_ROLE
from synapse_gql.workspaces.access import require_role

WORKSPACE_PATH = ["workspaceId"]


class MetricsSeat(Seat):
    """A subscriber's place: its metrics group and its viewer's access watch."""

    def __init__(self, operation: FeedOperation) -> None:
        super().__init__(operation)
        self._group: MetricsGroup | None = None

    def start_after(self) -> int:
        return 0

    def access_check(self) -> Callable[[], Awaitable[uuid.UUID]]:
        return partial(_member_of, self.operation.context, self.arguments.get("workspaceId"))

    def enter_group(self, checked: uuid.UUID, subscriber: Subscriber) -> None:
        groups = live_metrics_of(self.hub.state).groups
        window = MetricsWindow(self.arguments["window"])
        self._group = groups.join(self.key, subscriber.executor, checked, window, subscriber)

    def leave_group(self, subscriber: Subscriber) -> None:
        if self._group is not None:
            self._group.leave(subscriber)
            self._group = None


async def _member_of(context: Any, raw_id: Any) -> uuid.UUID:
    """The workspace's id when the viewer holds the usage role in it (``DomainError``
    otherwise)."""
    viewer = context.require_viewer()
    workspace_id = decode_id(raw_id, "Workspace", field=WORKSPACE_PATH)
    async with context.sessions() as session:
        await require_role(session, workspace_id, viewer.id, USAGE_ROLE, field=WORKSPACE_PATH)
    return workspace_id
