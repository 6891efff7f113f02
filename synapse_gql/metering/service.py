"""Recording one LLM call: price, usage log, message and conversation totals, billing and
budget alerts, all in the caller's transaction (the service only flushes)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.alerts import announce_alerts, evaluate_after_call
from synapse_gql.analytics.rollups import count_at_commit
from synapse_gql.metering import pricing, repository
from synapse_gql.metering.budget import budget_allows, raise_spend_alerts
from synapse_gql.models import (
    AlertEvent,
    ApiKeySource,
    BillingEvent,
    BillingEventType,
    BillingStatus,
    Conversation,
    LLMPrice,
    UsageLog,
    UsageStatus,
)
from synapse_gql.observability.metrics import count_metered

__all__ = ["AttemptRecord", "CallRecord", "RecordResult", "budget_allows", "record_call"]


@dataclass(kw_only=True)
class AttemptRecord:
    """An attempt of a call that failed before any text and was retried: the tokens it
    consumed (zero when the host refused it outright) and why it failed."""

    attempt: int
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    input_estimated: bool = False
    output_estimated: bool = False
    error_code: str | None = None
    error_message: str | None = None


@dataclass(kw_only=True)
class CallRecord:
    """What the send flow knows about one provider call once it has ended.

    Tokens are the provider-reported counts, or locally counted ones flagged by
    ``input_estimated`` / ``output_estimated`` (``tokens_estimated`` is either; setting
    only it means both were counted locally). A failed or cancelled call carries the
    tokens it consumed. ``attempt`` numbers the call's attempt; ``earlier_attempts`` are
    the attempts retried before it, each metered as a row of its own before this one.
    ``input_tokens`` is the uncached input; tokens read from or written to the provider's
    prompt cache are counted apart. ``llm_price_id`` is the price period in force when the
    call was sent: the call pays it even when the price changed before the call ended
    (``price``: that period as the send read it, so metering need not read it again).
    """

    workspace_id: uuid.UUID
    llm_id: uuid.UUID
    provider: str
    model_id: str
    api_key_source: ApiKeySource
    user_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None
    message_id: uuid.UUID | None = None
    api_token_id: uuid.UUID | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    llm_price_id: uuid.UUID | None = None
    price: pricing.PricePeriod | None = field(default=None, compare=False, repr=False)
    tokens_estimated: bool = False
    input_estimated: bool = False
    output_estimated: bool = False
    attempt: int = 1
    earlier_attempts: list[AttemptRecord] = field(default_factory=list)
    latency_ms: int | None = None
    time_to_first_token_ms: int | None = None
    status: UsageStatus = UsageStatus.SUCCESS
    error_code: str | None = None
    error_message: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    finish_reason: str | None = None

    def __post_init__(self) -> None:
        if self.tokens_estimated and not (self.input_estimated or self.output_estimated):
            self.input_estimated = self.output_estimated = True
        self.tokens_estimated = self.input_estimated or self.output_estimated
        counts = (self.input_tokens, self.output_tokens, self.cache_read_tokens)
        if min(*counts, self.cache_write_tokens) < 0:
            raise ValueError("Token counts cannot be negative.")
        for name in ("latency_ms", "time_to_first_token_ms"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} cannot be negative.")

    @property
    def total_tokens(self) -> int:
        """Every token of the call: uncached input, cache reads and writes, output."""
        return (
            self.input_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
            + self.output_tokens
        )

    def for_attempt(self, earlier: AttemptRecord) -> CallRecord:
        """The record of an earlier, failed attempt of this call."""
        return replace(
            self,
            attempt=earlier.attempt,
            earlier_attempts=[],
            input_tokens=earlier.input_tokens,
            output_tokens=earlier.output_tokens,
            cache_read_tokens=earlier.cache_read_tokens,
            cache_write_tokens=earlier.cache_write_tokens,
            tokens_estimated=False,
            input_estimated=earlier.input_estimated,
            output_estimated=earlier.output_estimated,
            status=UsageStatus.ERROR,
            error_code=earlier.error_code,
            error_message=earlier.error_message,
            time_to_first_token_ms=None,
            latency_ms=None,
            finish_reason=None,
        )

    @property
    def consumed_nothing(self) -> bool:
        """A call that failed or was cancelled before the provider used any token."""
        return self.status is not UsageStatus.SUCCESS and self.total_tokens == 0


@dataclass
class RecordResult:
    """What :func:`record_call` wrote: the usage row, its cost, the charge and new alerts."""

    usage_log: UsageLog
    cost: Decimal
    billing_event: BillingEvent | None
    new_alerts: list[AlertEvent]


async def record_call(session: AsyncSession, record: CallRecord) -> RecordResult:
    """Meter one LLM call in the caller's transaction.

    Prices it at the price period in force when the call was sent (``llm_price_id``; the
    current one when the record has none; failed and cancelled calls pay for the tokens
    they consumed, cached tokens at the period's cache prices), writes the usage log with
    the conversation's agent and counts it in its rollups at commit, adds tokens and cost to
    the assistant message (accumulated, so retries of one message add up; a call that
    consumed nothing leaves the message alone), to the conversation totals and to the
    per-LLM aggregate (every call counts there, failed ones too), writes a usage charge
    when the cost is positive and raises the budget thresholds it crossed.

    The caller must not write the message's token, cost and latency columns itself. A
    charge locks the workspace's budget row until the transaction ends: commit promptly.
    The record's earlier attempts are metered first, each as a row of its own.
    """
    for earlier in record.earlier_attempts:
        await record_call(session, record.for_attempt(earlier))
    price = await pricing.price_for_call(session, record.llm_id, record.llm_price_id, record.price)
    amount = pricing.cost(
        record.input_tokens,
        record.output_tokens,
        price,
        cache_read_tokens=record.cache_read_tokens,
        cache_write_tokens=record.cache_write_tokens,
    )
    usage = await _insert_usage(session, record, price, amount)
    await evaluate_after_call(session, usage)  # provider health alerts
    count_metered(record, amount, price.currency)
    if record.message_id is not None and not record.consumed_nothing:
        await _add_to_message(session, record.message_id, record, amount)
    if record.conversation_id is not None:
        await _add_to_conversation(session, record.conversation_id, record, amount)
    if amount <= 0:
        return RecordResult(usage, amount, None, [])
    charge = await _insert_charge(session, record, usage, amount, price.currency)
    alerts = await raise_spend_alerts(session, record.workspace_id, usage.id)
    announce_alerts(session, alerts)
    return RecordResult(usage, amount, charge, alerts)


async def _insert_usage(
    session: AsyncSession,
    record: CallRecord,
    price: pricing.PricePeriod | LLMPrice,
    amount: Decimal,
) -> UsageLog:
    usage = UsageLog(
        user_id=record.user_id,
        workspace_id=record.workspace_id,
        project_id=record.project_id,
        conversation_id=record.conversation_id,
        message_id=record.message_id,
        api_token_id=record.api_token_id,
        agent_id=_conversation_agent(record.conversation_id),
        llm_id=record.llm_id,
        llm_price_id=price.id,
        provider=record.provider,
        model_id=record.model_id,
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        cache_read_tokens=record.cache_read_tokens,
        cache_write_tokens=record.cache_write_tokens,
        total_tokens=record.total_tokens,
        tokens_estimated=record.tokens_estimated,
        input_estimated=record.input_estimated,
        output_estimated=record.output_estimated,
        attempt=record.attempt,
        input_price_per_million=price.input_price_per_million,
        output_price_per_million=price.output_price_per_million,
        cache_read_price_per_million=price.cache_read_price_per_million,
        cache_write_price_per_million=price.cache_write_price_per_million,
        cost=amount,
        latency_ms=record.latency_ms,
        time_to_first_token_ms=record.time_to_first_token_ms,
        status=record.status,
        error_code=record.error_code,
        error_message=record.error_message,
        parameters=dict(record.parameters),
        api_key_source=record.api_key_source,
        # The statement's clock, not the transaction's: calls metered together (a failed
        # call and its fallback) keep their order, so "the last call" is well defined.
        created_at=func.clock_timestamp(),
    )
    session.add(usage)
    await session.flush()
    count_at_commit(session, usage.id)
    return usage


def _conversation_agent(conversation_id: uuid.UUID | None) -> Any:
    """The agent of the call's conversation, read by the INSERT itself."""
    if conversation_id is None:
        return None
    return select(Conversation.agent_id).where(Conversation.id == conversation_id).scalar_subquery()


async def _add_to_message(
    session: AsyncSession, message_id: uuid.UUID, record: CallRecord, amount: Decimal
) -> None:
    await repository.add_to_message(
        session,
        message_id,
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        cost=amount,
        latency_ms=record.latency_ms,
        time_to_first_token_ms=record.time_to_first_token_ms,
        llm_id=record.llm_id,
        finish_reason=record.finish_reason,
    )


async def _add_to_conversation(
    session: AsyncSession, conversation_id: uuid.UUID, record: CallRecord, amount: Decimal
) -> None:
    await repository.add_to_conversation(
        session,
        conversation_id,
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        cost=amount,
    )
    await repository.upsert_conversation_llm(
        session,
        conversation_id,
        record.llm_id,
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        cost=amount,
        latency_ms=record.latency_ms or 0,
    )


async def _insert_charge(
    session: AsyncSession, record: CallRecord, usage: UsageLog, amount: Decimal, currency: str
) -> BillingEvent:
    charge = BillingEvent(
        workspace_id=record.workspace_id,
        user_id=record.user_id,
        usage_log_id=usage.id,
        message_id=record.message_id,
        type=BillingEventType.USAGE_CHARGE,
        amount=amount,
        currency=currency,
        status=BillingStatus.PENDING,
        description=_description(record),
    )
    session.add(charge)
    await session.flush()
    return charge


def _description(record: CallRecord) -> str:
    cached = ""
    if record.cache_read_tokens or record.cache_write_tokens:
        cached = (
            f" + {record.cache_read_tokens} cache read + {record.cache_write_tokens} cache write"
        )
    return (
        f"{record.provider}/{record.model_id}: {record.input_tokens} input{cached}"
        f" + {record.output_tokens} output tokens"
    )
