"""Both WebSocket protocols with the metrics groups: a subscribe whose single root field is
``workspaceMetrics`` (``METRICS_FIELDS``) is served by a group, sharing one encoded payload
per update; every other message keeps the shared-feed handlers' path
(``realtime.fanout.protocols``, whose routing and lifecycle both use)."""

from __future__ import annotations

from synapse_gql.metrics.live import live_metrics_of
from synapse_gql.metrics.operation import MetricsSeat
from synapse_gql.realtime.fanout.protocols import (
    ANSWER_FEEDS,
    FeedGraphQLWSHandler,
    FeedRoute,
    FeedTransportWSHandler,
)

LIVE_METRICS = FeedRoute(lambda state, hub: live_metrics_of(state).documents, MetricsSeat)


class MetricsTransportWSHandler(FeedTransportWSHandler):
    """graphql-transport-ws with shared feeds and metrics groups."""

    routes = (LIVE_METRICS, ANSWER_FEEDS)


class MetricsGraphQLWSHandler(FeedGraphQLWSHandler):
    """The legacy graphql-ws protocol with shared feeds and metrics groups."""

    routes = (LIVE_METRICS, ANSWER_FEEDS)
