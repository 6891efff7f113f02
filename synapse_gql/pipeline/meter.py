"""Step three of a call: meter it and settle its reservation, in the closing transaction.

:func:`meter_and_settle` is where "a call was metered" happens: after the usage rows,
totals, budgets and billing are written and the reservation released, every hook of
``AppState.metered_hooks`` runs with the session and the new usage rows, so what a hook
writes (an alert, say) commits or rolls back together with the usage. A hook must not
commit, and should keep its own failures from aborting the metering.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.budgets.caller import request_api_token
from synapse_gql.budgets.reservations import settle
from synapse_gql.generation.calls import CallOutcome, metered
from synapse_gql.generation.failures import logged_message, usage_status
from synapse_gql.llm import ProviderErrorCode
from synapse_gql.metering import CallRecord, RecordResult, record_call
from synapse_gql.metering.pricing import PricePeriod
from synapse_gql.models import UsageLog
from synapse_gql.pipeline.plan import ModelChoice
from synapse_gql.realtime import publisher_for, workspace_metrics_channel
from synapse_gql.realtime.events import UsageEvent
from synapse_gql.state import AppState

MeteredHook = Callable[[AsyncSession, Sequence[UsageLog]], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class CallScope:
    """Who pays for a call and what it belongs to."""

    workspace_id: uuid.UUID
    user_id: uuid.UUID | None
    project_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None
    message_id: uuid.UUID | None = None


def call_record(
    scope: CallScope, choice: ModelChoice, outcome: CallOutcome, system_prompt: bool
) -> CallRecord:
    """The usage of one provider call of ``choice``."""
    error = outcome.error
    cancelled = error is not None and error.code is ProviderErrorCode.CANCELLED
    return CallRecord(
        workspace_id=scope.workspace_id,
        user_id=scope.user_id,
        project_id=scope.project_id,
        conversation_id=scope.conversation_id,
        message_id=scope.message_id,
        # The request's API token (inherited by its generation), for API-token budgets.
        api_token_id=request_api_token(),
        llm_id=choice.llm.id,
        provider=choice.llm.provider,
        model_id=choice.llm.model_id,
        api_key_source=choice.key.source,
        llm_price_id=choice.price_id,
        price=None if choice.price is None else PricePeriod.of(choice.price),
        **metered(outcome),
        latency_ms=outcome.latency_ms,
        time_to_first_token_ms=outcome.time_to_first_token_ms,
        status=usage_status(error),
        error_code=None if error is None else error.code.value,
        error_message=logged_message(error),
        parameters={**choice.recorded, "system_prompt": system_prompt},
        finish_reason="cancelled" if cancelled else outcome.finish_reason,
    )


async def meter_and_settle(
    state: AppState,
    session: AsyncSession,
    records: Sequence[CallRecord],
    reservation_id: uuid.UUID | None,
) -> list[RecordResult]:
    """Meter ``records`` and release ``reservation_id`` in ``session``'s transaction, run
    the metered hooks, and queue the usage news for after the commit: every usage row
    written (earlier, retried attempts included), in the order written. One result per
    record (its final attempt)."""
    results: list[RecordResult] = []
    logs: list[UsageLog] = []
    for record in records:
        result, rows = await _meter(session, record)
        results.append(result)
        logs.extend(rows)
    # Budgets: the exact cost was charged above; the reservation of the worst case ends.
    await settle(session, reservation_id)
    for hook in state.metered_hooks:
        await hook(session, logs)
    publisher = publisher_for(state.realtime)
    for usage_log in logs:
        channel = workspace_metrics_channel(usage_log.workspace_id)
        publisher.publish(session, channel, UsageEvent(usage_log_id=usage_log.id))
    return results


async def _meter(session: AsyncSession, record: CallRecord) -> tuple[RecordResult, list[UsageLog]]:
    """Meter ``record``: its earlier attempts first, each a row of its own, then the final
    attempt; the final attempt's result and every row written, in order."""
    rows = [
        (await record_call(session, record.for_attempt(earlier))).usage_log
        for earlier in record.earlier_attempts
    ]
    result = await record_call(session, replace(record, earlier_attempts=[]))
    return result, [*rows, result.usage_log]
