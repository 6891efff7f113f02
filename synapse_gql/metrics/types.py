"""GraphQL types of the live workspace metrics."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from synapse_gql.metrics.snapshot import MetricsWindow, Snapshot

strawberry.enum(
    MetricsWindow,
    name="MetricsWindow",
    description="The sliding window, ending now, that live metrics cover.",
)


@strawberry.type(
    name="WorkspaceMetrics",
    description="A workspace's figures over a sliding window ending at computedAt: the"
    " snapshot sent on subscribe, then each update (at most one a second while they change).",
)
class WorkspaceMetricsType:
    sequence: int = strawberry.field(
        description="1 for the first figures this server computed for the workspace and"
        " window, then one more per update: consecutive for a subscriber that keeps up."
    )
    window: MetricsWindow
    window_start: datetime
    computed_at: datetime
    spend: Decimal = strawberry.field(description="Cost of the window's calls.")
    calls: int = strawberry.field(description="LLM calls metered in the window.")
    errors: int = strawberry.field(description="Calls of the window that failed.")
    cancelled: int = strawberry.field(description="Calls of the window that were cancelled.")
    input_tokens: int = strawberry.field(description="Uncached input tokens.")
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    total_tokens: int = strawberry.field(
        description="Input, cache read, cache write and output tokens together."
    )
    generations_in_flight: int = strawberry.field(
        description="Answers of the workspace streaming now."
    )
    latency_p50_ms: int | None = strawberry.field(
        description="Median latency of the window's calls (null without calls)."
    )
    latency_p95_ms: int | None = strawberry.field(
        description="95th percentile latency of the window's calls (null without calls)."
    )

    @classmethod
    def of(cls, sequence: int, window: MetricsWindow, snapshot: Snapshot) -> WorkspaceMetricsType:
        """The update numbered ``sequence`` carrying ``snapshot``."""
        figures = snapshot.figures
        return cls(
            sequence=sequence,
            window=window,
            window_start=snapshot.window_start,
            computed_at=snapshot.computed_at,
            spend=figures.spend,
            calls=figures.calls,
            errors=figures.errors,
            cancelled=figures.cancelled,
            input_tokens=figures.input_tokens,
            output_tokens=figures.output_tokens,
            cache_read_tokens=figures.cache_read_tokens,
            cache_write_tokens=figures.cache_write_tokens,
            total_tokens=figures.total_tokens,
            generations_in_flight=figures.generations_in_flight,
            latency_p50_ms=figures.latency_p50_ms,
            latency_p95_ms=figures.latency_p95_ms,
        )
