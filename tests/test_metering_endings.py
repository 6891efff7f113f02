"""How a call is metered in each way it can end, through the real OpenAI and Anthropic SDKs
against the loopback fakes: every count the host reported is kept, only the missing ones are
estimated (and flagged so), retried attempts are metered row by row, and the text streamed,
stored and metered is the same."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from synapse_gql.llm import ChatMessage, count_tokens
from synapse_gql.metering import AttemptRecord, CallRecord
from synapse_gql.models import ApiKeySource, UsageStatus
from tests.chat_helpers import Served, new_conversation, send, served, wait_for
from tests.generation_helpers import fake_urls, llm_global_id
from tests.helpers import db_id, fetch
from tests.llm_fakes import (
    FakeHost,
    Reply,
    anthropic_error,
    fake_anthropic,
    fake_openai,
    openai_error,
)
from tests.test_chat_stream import contiguous_text
from tests.ws_client import connect

TEXT = "alpha beta gamma delta epsilon zeta"
QUESTION = "How is this call metered?"
MODELS = {"openai": "gpt-4o", "anthropic": "claude-3-haiku-20240307"}
ROW = (
    "SELECT attempt, status, error_code, input_tokens, output_tokens, input_estimated,"
    " output_estimated, tokens_estimated, cost FROM usage_logs WHERE message_id = :m"
    " ORDER BY attempt"
)


@dataclass
class Hosts:
    openai: FakeHost
    anthropic: FakeHost

    def of(self, provider: str) -> FakeHost:
        return self.openai if provider == "openai" else self.anthropic


@dataclass
class Answer:
    """An answer as the subscriber saw it, as stored, and its usage rows."""

    streamed: str
    end: dict[str, Any]
    rows: list[Any]

    @property
    def stored(self) -> str:
        return str(self.end["message"]["content"])

    @property
    def status(self) -> str:
        return str(self.end["message"]["status"])


@asynccontextmanager
async def on_fakes(settings, **changes: Any) -> AsyncIterator[tuple[Served, Hosts]]:
    async with fake_openai() as openai_host, fake_anthropic() as anthropic_host:
        urls = fake_urls(openai_host.base_url, anthropic_host.base_url)
        async with served(
            settings,
            provider_base_urls=urls,
            openai_api_key=SecretStr("sk-endings-openai-000000001"),
            anthropic_api_key=SecretStr("sk-ant-endings-000000001"),
            **changes,
        ) as server:
            yield server, Hosts(openai_host, anthropic_host)


async def ask(server: Served, make_user, make_workspace, db_engine, provider: str) -> dict:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(server.gql, owner, workspace)
    model = await llm_global_id(db_engine, MODELS[provider])
    turn = await send(server.gql, owner, conversation, QUESTION, model=model)
    assert turn["__typename"] == "ChatTurn", turn
    turn["owner"] = owner
    return turn


async def answered(server: Served, db_engine, turn: dict, stop_after: str | None = None) -> Answer:
    """Watch the answer to its end (stopping it once ``stop_after`` was published)."""
    answer_id = turn["assistantMessage"]["id"]
    async with connect(server.ws_url, turn["owner"].token) as socket:
        op = await socket.start("MessageStream", messageId=answer_id)
        if stop_after is not None:
            await published(server, answer_id, stop_after)
            await server.gql.op(
                "StopGeneration", turn["owner"].token, input={"messageId": answer_id}
            )
        events = await op.until_end("messageStream")
    rows = await fetch(db_engine, ROW, m=db_id(answer_id))
    return Answer(contiguous_text(events[:-1]), events[-1], rows)


async def published(server: Served, answer_id: str, text: str) -> None:
    log = server.app.state.synapse.stream_log

    async def sent() -> bool:
        return "".join(d.text for d in await log.read(db_id(answer_id))) == text

    await wait_for(sent)


def tokens(provider: str, value: str | list[ChatMessage]) -> int:
    return count_tokens(MODELS[provider], provider, value)[0]


def prompt_tokens(provider: str) -> int:
    return tokens(provider, [ChatMessage("user", QUESTION)])


def counts(row: Any) -> tuple[int, int, bool, bool, bool]:
    flags = (row.input_estimated, row.output_estimated, row.tokens_estimated)
    return (row.input_tokens, row.output_tokens, *flags)


async def totals_match_rows(db_engine, turn: dict) -> None:
    """The conversation's totals and the charges equal the sum of the usage rows."""
    [sums] = await fetch(
        db_engine,
        "SELECT c.total_input_tokens, c.total_output_tokens, c.total_cost,"
        " (SELECT sum(input_tokens) FROM usage_logs u WHERE u.conversation_id = c.id) AS i,"
        " (SELECT sum(output_tokens) FROM usage_logs u WHERE u.conversation_id = c.id) AS o,"
        " (SELECT sum(cost) FROM usage_logs u WHERE u.conversation_id = c.id) AS cost,"
        " (SELECT coalesce(sum(amount), 0) FROM billing_events b JOIN usage_logs u"
        "   ON u.id = b.usage_log_id WHERE u.conversation_id = c.id) AS charged"
        " FROM conversations c WHERE c.id = :c",
        c=db_id(turn["conversation"]["id"]),
    )
    assert (sums.total_input_tokens, sums.total_output_tokens) == (sums.i, sums.o)
    assert sums.total_cost == sums.cost == sums.charged


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_completed_answer_keeps_the_reported_counts(
    settings, make_user, make_workspace, db_engine, provider
) -> None:
    """Given a complete stream, then COMPLETED, one success row with the host's counts,
    nothing estimated, and the text streamed equal to the text stored."""
    async with on_fakes(settings) as (server, hosts):
        hosts.of(provider).script = [Reply(text=TEXT, input_tokens=21, output_tokens=9)]
        turn = await ask(server, make_user, make_workspace, db_engine, provider)
        answer = await answered(server, db_engine, turn)

    assert answer.status == "COMPLETED"
    assert answer.streamed == answer.stored == TEXT
    [row] = answer.rows
    assert (row.attempt, row.status) == (1, "success")
    assert counts(row) == (21, 9, False, False, False)


@pytest.mark.parametrize(
    ("provider", "cut", "expected"),
    [
        ("anthropic", "message_stop", "reported"),
        ("openai", "done", "reported"),
        ("openai", "usage", "estimated"),
    ],
)
async def test_an_answer_cut_after_its_end_reason_is_completed(
    settings, make_user, make_workspace, db_engine, provider, cut, expected
) -> None:
    """Given a stream whose host said the reply is complete (OpenAI finish_reason, Anthropic
    message_delta) and then dropped the connection before its last event, then COMPLETED
    and a success row: the host's counts when it sent them, else both counts estimated."""
    async with on_fakes(settings, llm_retry_attempts=1) as (server, hosts):
        hosts.of(provider).script = [Reply(text=TEXT, output_tokens=9, cut_before=cut)]
        turn = await ask(server, make_user, make_workspace, db_engine, provider)
        answer = await answered(server, db_engine, turn)
        assert hosts.of(provider).calls == 1

    assert answer.status == "COMPLETED"
    assert answer.streamed == answer.stored == TEXT
    [row] = answer.rows
    assert (row.attempt, row.status, row.error_code) == (1, "success", None)
    if expected == "reported":
        assert counts(row) == (21, 9, False, False, False)
    else:
        output = tokens(provider, TEXT)
        assert counts(row) == (prompt_tokens(provider), output, True, True, True)
    assert answer.end["usage"]["tokensEstimated"] is (expected == "estimated")


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_an_answer_cut_mid_text_keeps_the_reported_input(
    settings, make_user, make_workspace, db_engine, provider
) -> None:
    """Given a stream cut after three chunks, then FAILED with the partial text, metered for
    exactly that text: Anthropic's input from message_start kept as reported, OpenAI's
    (not reported before its end) estimated; the output estimated from the text."""
    async with on_fakes(settings, llm_retry_attempts=1) as (server, hosts):
        hosts.of(provider).script = [Reply(text=TEXT, input_tokens=21, break_after=3)]
        turn = await ask(server, make_user, make_workspace, db_engine, provider)
        answer = await answered(server, db_engine, turn)

    partial = "alpha beta gamma"
    assert answer.status == "FAILED"
    assert answer.streamed == answer.stored == partial
    [row] = answer.rows
    assert (row.attempt, row.status, row.error_code) == (1, "error", "UNAVAILABLE")
    output = tokens(provider, partial)
    if provider == "anthropic":
        assert counts(row) == (21, output, False, True, True)
    else:
        assert counts(row) == (prompt_tokens(provider), output, True, True, True)
    await totals_match_rows(db_engine, turn)


async def test_attempts_cut_before_any_text_each_meter_the_reported_input(
    settings, make_user, make_workspace, db_engine
) -> None:
    """Given Anthropic reporting the input (message_start) then dropping the connection
    before any text, three times, then FAILED with no text and three error rows (attempts 1,
    2, 3), each with the reported input exact and no output (flagged estimated), totals equal
    to the rows."""
    async with on_fakes(settings, llm_retry_attempts=3) as (server, hosts):
        hosts.anthropic.default = Reply(text=TEXT, input_tokens=21, break_after=0)
        turn = await ask(server, make_user, make_workspace, db_engine, "anthropic")
        answer = await answered(server, db_engine, turn)
        assert hosts.anthropic.calls == 3

    assert answer.status == "FAILED"
    assert answer.streamed == answer.stored == ""
    assert [row.attempt for row in answer.rows] == [1, 2, 3]
    for row in answer.rows:
        assert (row.status, row.error_code) == ("error", "UNAVAILABLE")
        assert counts(row) == (21, 0, False, True, True)
        assert row.cost > 0
    await totals_match_rows(db_engine, turn)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_stopped_answer_is_metered_for_the_text_published(
    settings, make_user, make_workspace, db_engine, provider
) -> None:
    """Given a stream paused after three chunks, when the owner stops it, then CANCELLED
    with the text streamed == stored == metered (output estimated from it) and Anthropic's
    reported input kept."""
    hold = asyncio.Event()
    try:
        async with on_fakes(settings) as (server, hosts):
            reply = Reply(text=TEXT, input_tokens=21, hold_after=3, hold=hold)
            hosts.of(provider).script = [reply]
            turn = await ask(server, make_user, make_workspace, db_engine, provider)
            partial = "alpha beta gamma"
            answer = await answered(server, db_engine, turn, stop_after=partial)
            hold.set()
    finally:
        hold.set()

    assert answer.status == "CANCELLED"
    assert answer.streamed == answer.stored == partial
    [row] = answer.rows
    assert (row.attempt, row.status) == (1, "cancelled")
    output = tokens(provider, partial)
    if provider == "anthropic":
        assert counts(row) == (21, output, False, True, True)
    else:
        assert counts(row) == (prompt_tokens(provider), output, True, True, True)
    assert Decimal(answer.end["usage"]["cost"]) == row.cost > 0
    end_flags = (answer.end["usage"]["inputEstimated"], answer.end["usage"]["outputEstimated"])
    assert end_flags == (row.input_estimated, row.output_estimated)
    await totals_match_rows(db_engine, turn)


REFUSALS = {
    "openai": [
        openai_error(429, "Rate limit reached", code="rate_limit_exceeded"),
        openai_error(500, "The server had an error", kind="server_error"),
    ],
    "anthropic": [
        anthropic_error(429, "rate_limit_error", "Rate limited"),
        anthropic_error(500, "api_error", "Internal error"),
    ],
}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_refused_attempts_leave_zero_rows_before_the_success(
    settings, make_user, make_workspace, db_engine, provider
) -> None:
    """Given a host answering 429, then 500, then the reply, then COMPLETED and three rows:
    attempts 1 and 2 errors with zero tokens and zero cost, attempt 3 the reported counts."""
    async with on_fakes(settings, llm_retry_attempts=3) as (server, hosts):
        hosts.of(provider).script = [*REFUSALS[provider], Reply(text=TEXT)]
        turn = await ask(server, make_user, make_workspace, db_engine, provider)
        answer = await answered(server, db_engine, turn)

    assert answer.status == "COMPLETED"
    assert answer.streamed == answer.stored == TEXT
    first, second, last = answer.rows
    assert [(r.attempt, r.status) for r in answer.rows] == [
        (1, "error"),
        (2, "error"),
        (3, "success"),
    ]
    assert (first.error_code, second.error_code) == ("RATE_LIMIT", "UNAVAILABLE")
    assert answer.end["usage"]["attempt"] == 3
    for refused in (first, second):
        assert counts(refused) == (0, 0, False, False, False)
        assert refused.cost == 0
    assert counts(last) == (21, 9, False, False, False)
    await totals_match_rows(db_engine, turn)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_attempts_refused_for_good_each_leave_a_zero_row(
    settings, make_user, make_workspace, db_engine, provider
) -> None:
    """Given a host answering 500 to both attempts, then FAILED and two zero-cost rows."""
    async with on_fakes(settings, llm_retry_attempts=2) as (server, hosts):
        hosts.of(provider).default = REFUSALS[provider][1]
        turn = await ask(server, make_user, make_workspace, db_engine, provider)
        answer = await answered(server, db_engine, turn)

    assert answer.status == "FAILED"
    assert answer.stored == answer.streamed == ""
    assert [(r.attempt, r.status, r.error_code) for r in answer.rows] == [
        (1, "error", "UNAVAILABLE"),
        (2, "error", "UNAVAILABLE"),
    ]
    assert all(counts(r) == (0, 0, False, False, False) and r.cost == 0 for r in answer.rows)
    await totals_match_rows(db_engine, turn)


def test_a_record_estimated_as_a_whole_flags_both_counts() -> None:
    """Given a call metered from local counts only (a process that died mid-answer), then
    both counts are flagged; given one flagged count, tokensEstimated follows it; an
    earlier attempt's record keeps the call but has its own counts, flags and error."""
    base = {"workspace_id": uuid.uuid4(), "llm_id": uuid.uuid4(), "provider": "anthropic"}
    whole = CallRecord(
        **base, model_id="m", api_key_source=ApiKeySource.NONE, tokens_estimated=True
    )
    assert (whole.input_estimated, whole.output_estimated, whole.tokens_estimated) == (
        True,
        True,
        True,
    )
    record = CallRecord(
        **base, model_id="m", api_key_source=ApiKeySource.NONE, output_estimated=True
    )
    assert (record.input_estimated, record.tokens_estimated) == (False, True)
    earlier = record.for_attempt(
        AttemptRecord(attempt=1, input_tokens=21, error_code="UNAVAILABLE")
    )
    assert (earlier.attempt, earlier.input_tokens, earlier.output_tokens) == (1, 21, 0)
    assert (earlier.tokens_estimated, earlier.status, earlier.error_code) == (
        False,
        UsageStatus.ERROR,
        "UNAVAILABLE",
    )
    assert earlier.llm_id == record.llm_id
