"""This process's live metrics: the tickers by workspace and window, and the groups of
WebSocket subscribers that share one encoded payload per update."""

from __future__ import annotations

from synapse_gql.metrics.groups import MetricsGroups
from synapse_gql.metrics.ticker import MetricsTickers
from synapse_gql.metrics.types import WorkspaceMetricsType
from synapse_gql.realtime.fanout.documents import FeedDocuments
from synapse_gql.state import AppState

METRICS_FIELDS = frozenset({"workspaceMetrics"})


class LiveMetrics:
    """The tickers (one per workspace and window), the subscriber groups fed by them and
    the subscribe documents they serve (a subscription selecting one root field,
    ``workspaceMetrics``, with no directives at its root)."""

    def __init__(self, state: AppState) -> None:
        self.tickers: MetricsTickers[WorkspaceMetricsType] = MetricsTickers(
            state.db.read_engine, state.realtime, WorkspaceMetricsType.of
        )
        self.groups = MetricsGroups(self.tickers)
        self.documents = FeedDocuments(state.settings.max_query_tokens, METRICS_FIELDS)


def live_metrics_of(state: AppState) -> LiveMetrics:
    """The process's live metrics (made on first use)."""
    if state.live_metrics is None:
        state.live_metrics = LiveMetrics(state)
    return state.live_metrics
