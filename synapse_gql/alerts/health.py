"""Provider health after metered calls: error rate and latency episodes per workspace and
provider, raised once per episode and resolved when the rule clears (judged on the pace
of :mod:`synapse_gql.alerts.pacing`)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.alerts import repository
from synapse_gql.alerts.live import announce_alerts, runtime_for
from synapse_gql.alerts.rules import (
    HealthRules,
    Verdict,
    WindowStats,
    error_rate_percent,
    error_rate_verdict,
    latency_verdict,
)
from synapse_gql.models import AlertEvent, AlertKind, AlertStatus, UsageLog, UsageStatus


async def evaluate_after_call(session: AsyncSession, usage_log: UsageLog) -> list[AlertEvent]:
    """Judge the call's provider in its workspace over the window, in the caller's
    transaction, when the pacing says it is due: open an episode for a rule newly breached,
    resolve the open episode of a rule now clear, and announce both after commit. Returns
    the alerts it changed.

    A judgement costs one statement (the window's aggregate and its open episodes), plus
    one per episode opened or resolved; a call not judged costs none.
    """
    runtime = runtime_for(session)
    rules = runtime.rules
    workspace_id, provider = usage_log.workspace_id, usage_log.provider
    pair = (workspace_id, provider)
    if not runtime.pacing.should_judge(pair, could_breach(usage_log, rules)):
        return []
    stats, episodes = await repository.window_stats(
        session, workspace_id, provider, rules.window_seconds
    )
    verdicts = {
        AlertKind.PROVIDER_ERROR_RATE: error_rate_verdict(stats, rules),
        AlertKind.PROVIDER_LATENCY: latency_verdict(stats, rules),
    }
    changed: list[AlertEvent | None] = []
    for kind, verdict in verdicts.items():
        current = episodes.get(kind)
        if verdict is Verdict.BREACHED and current is None:
            row = _episode(kind, workspace_id, provider, stats, rules, usage_log.id)
            changed.append(await repository.open_episode(session, row))
        elif verdict is Verdict.CLEAR and current is not None:
            changed.append(await _resolve(session, current, stats))
    done = [alert for alert in changed if alert is not None]
    runtime.pacing.judged(pair, _open_after(episodes, done))
    announce_alerts(session, done)
    return done


def could_breach(usage_log: UsageLog, rules: HealthRules) -> frozenset[AlertKind]:
    """The rules this call pushes toward their threshold: a failure the error rate, a
    success slower than the threshold the latency; a cancelled call neither."""
    if usage_log.status is UsageStatus.ERROR:
        return frozenset({AlertKind.PROVIDER_ERROR_RATE})
    measure = usage_log.time_to_first_token_ms or usage_log.latency_ms
    if usage_log.status is UsageStatus.SUCCESS and (measure or 0) >= rules.latency_p95_ms:
        return frozenset({AlertKind.PROVIDER_LATENCY})
    return frozenset()


def _open_after(
    episodes: dict[AlertKind, uuid.UUID], changed: list[AlertEvent]
) -> frozenset[AlertKind]:
    """The kinds with an episode open once this judgement's changes are in."""
    kinds = set(episodes)
    for alert in changed:
        if alert.status is AlertStatus.RESOLVED:
            kinds.discard(alert.kind)
        else:
            kinds.add(alert.kind)
    return frozenset(kinds)


async def _resolve(
    session: AsyncSession, episode_id: uuid.UUID, stats: WindowStats
) -> AlertEvent | None:
    return await repository.transition(
        session,
        episode_id,
        repository.ACTIVE,
        AlertStatus.RESOLVED,
        resolved_at=func.now(),
        details=repository.merged_details({"resolvedWith": _figures(stats)}),
    )


def _figures(stats: WindowStats) -> dict[str, Any]:
    return {
        "calls": stats.calls,
        "errors": stats.errors,
        "errorRatePercent": error_rate_percent(stats),
        "timedCalls": stats.timed_calls,
        "p95LatencyMs": None if stats.p95_latency_ms is None else round(stats.p95_latency_ms),
    }


def _episode(
    kind: AlertKind,
    workspace_id: uuid.UUID,
    provider: str,
    stats: WindowStats,
    rules: HealthRules,
    usage_log_id: uuid.UUID,
) -> dict[str, Any]:
    minutes = f"{rules.window_seconds / 60:g}"
    if kind is AlertKind.PROVIDER_ERROR_RATE:
        message = (
            f"{stats.errors} of the last {stats.calls} calls to {provider} failed"
            f" ({error_rate_percent(stats):g}%) in {minutes} minutes."
        )
        threshold: int | None = rules.error_rate_percent
    else:
        p95 = round(stats.p95_latency_ms or 0)
        message = (
            f"Calls to {provider} take {p95} ms to answer at the 95th percentile over"
            f" {minutes} minutes (threshold {rules.latency_p95_ms} ms)."
        )
        threshold = None
    return {
        "id": uuid.uuid4(),
        "workspace_id": workspace_id,
        "kind": kind,
        "status": AlertStatus.OPEN,
        "provider": provider,
        "threshold_percent": threshold,
        "message": message,
        "details": {
            **_figures(stats),
            "provider": provider,
            "windowSeconds": rules.window_seconds,
            "minCalls": rules.min_calls,
            "errorRateThresholdPercent": rules.error_rate_percent,
            "latencyThresholdMs": rules.latency_p95_ms,
            "usageLogId": str(usage_log_id),
        },
    }
