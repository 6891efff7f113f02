"""Answers whose generation stopped: the stale sweeper (at start-up and periodically), the
leases that tell a live process from a dead one within seconds, the shutdown of a server
mid-answer, and the checkpoints that tell a live answer from a dead one."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.app import create_app
from synapse_gql.chat.leases import this_host
from synapse_gql.llm import count_tokens
from synapse_gql.llm.mock_provider import mock_reply
from synapse_gql.llm.types import ChatMessage
from synapse_gql.realtime import Delta, RedisStreamLog
from synapse_gql.realtime.journal import DeltaJournal
from tests.chat_helpers import new_conversation, send, served, wait_for
from tests.helpers import db_id, execute, fetch, scalar


def full_reply(question: str) -> str:
    """What the mock model answers to the first question of a conversation."""
    return mock_reply([ChatMessage("user", question)])


async def synapse_dev_id(engine: AsyncEngine) -> uuid.UUID:
    return await scalar(
        engine, "SELECT id FROM llms WHERE provider = 'mock' AND model_id = 'synapse-dev'"
    )


async def insert_streaming_answer(
    engine: AsyncEngine,
    conversation: dict,
    user_id: uuid.UUID,
    content: str,
    age_seconds: float = 600,
    prompt_tokens: int = 12,
) -> uuid.UUID:
    """An assistant message left streaming, last checkpointed ``age_seconds`` ago, with what a
    generation records to be metered should its process die."""
    llm_id = await synapse_dev_id(engine)
    generation = {
        "llm_id": str(llm_id),
        "provider": "mock",
        "model_id": "synapse-dev",
        "key_source": "none",
        "parameters": {},
        "user_id": str(user_id),
        "prompt_tokens": prompt_tokens,
    }
    message_id = uuid.uuid4()
    await execute(
        engine,
        "INSERT INTO messages (id, conversation_id, role, content, status, llm_id,"
        " stream_sequence, generation, created_at, updated_at)"
        " VALUES (:id, :conversation, 'assistant', :content, 'streaming', :llm, 1,"
        " CAST(:generation AS jsonb), now() - make_interval(secs => :age),"
        " now() - make_interval(secs => :age))",
        id=message_id,
        conversation=db_id(conversation["id"]),
        content=content,
        llm=llm_id,
        generation=json.dumps(generation),
        age=age_seconds,
    )
    return message_id


async def message_row(engine: AsyncEngine, message_id: uuid.UUID) -> Any:
    [row] = await fetch(
        engine,
        "SELECT status, content, stream_sequence, error_code, completed_at, updated_at,"
        " input_tokens, output_tokens FROM messages WHERE id = :m",
        m=message_id,
    )
    return row


async def usage_rows(engine: AsyncEngine, message_id: uuid.UUID) -> list[Any]:
    return await fetch(
        engine,
        "SELECT status, input_tokens, output_tokens, tokens_estimated, error_code, cost"
        " FROM usage_logs WHERE message_id = :m",
        m=message_id,
    )


async def has_status(engine: AsyncEngine, message_id: uuid.UUID, status: str) -> bool:
    return (await message_row(engine, message_id)).status == status


async def assert_totals_match_usage(engine: AsyncEngine, conversation: dict) -> None:
    [row] = await fetch(
        engine,
        "SELECT c.total_input_tokens, c.total_output_tokens, c.total_cost,"
        " (SELECT coalesce(sum(input_tokens), 0) FROM usage_logs WHERE conversation_id = c.id),"
        " (SELECT coalesce(sum(output_tokens), 0) FROM usage_logs WHERE conversation_id = c.id),"
        " (SELECT coalesce(sum(cost), 0) FROM usage_logs WHERE conversation_id = c.id)"
        " FROM conversations c WHERE c.id = :c",
        c=db_id(conversation["id"]),
    )
    assert (row[0], row[1]) == (row[3], row[4]), row
    assert Decimal(row[2]) == Decimal(row[5]), row


async def test_start_up_sweep_closes_stale_answers_and_meters_them(
    settings, gql, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(gql, owner, workspace)
    stale = await insert_streaming_answer(db_engine, conversation, db_id(owner.id), "partial")
    fresh = await insert_streaming_answer(
        db_engine, conversation, db_id(owner.id), "fresh", age_seconds=0
    )

    # Nothing has swept them yet (the fixture's app swept at its start, before they existed).
    assert await has_status(db_engine, stale, "streaming")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await wait_for(lambda: has_status(db_engine, stale, "failed"))
        closed = await message_row(db_engine, stale)
        untouched = await message_row(db_engine, fresh)

    assert closed.error_code == "GENERATION_INTERRUPTED"
    assert closed.content == "partial"
    assert closed.stream_sequence == 1
    assert closed.completed_at is not None
    output = count_tokens("synapse-dev", "mock", "partial")[0]
    assert output > 0
    [usage] = await usage_rows(db_engine, stale)
    assert usage.tokens_estimated is True
    assert (usage.input_tokens, usage.output_tokens) == (12, output)
    assert usage.status == "error"
    assert usage.error_code == "GENERATION_INTERRUPTED"
    assert (closed.input_tokens, closed.output_tokens) == (12, output)
    await assert_totals_match_usage(db_engine, conversation)

    assert untouched.status == "streaming"
    assert (untouched.content, untouched.stream_sequence) == ("fresh", 1)
    assert untouched.completed_at is None
    assert untouched.error_code is None
    assert await usage_rows(db_engine, fresh) == []


async def test_periodic_sweep_spares_live_answers_and_closes_stale_ones(
    settings, gql, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(gql, owner, workspace)
    question = "Sweep around a live answer"
    async with served(
        settings,
        stale_generation_seconds=1,
        stale_sweep_seconds=0.2,
        stream_checkpoint_seconds=0.1,
        mock_tokens_per_second=5,
    ) as server:
        turn = await send(server.gql, owner, conversation, question)
        live = db_id(turn["assistantMessage"]["id"])

        first = await insert_streaming_answer(db_engine, conversation, db_id(owner.id), "one")
        await wait_for(lambda: has_status(db_engine, first, "failed"))
        assert await has_status(db_engine, live, "streaming")

        # Much longer than stale_generation_seconds later, the sweeper still runs and the
        # live answer, checkpointed all along, is still streaming.
        async def streamed_for_a_while() -> bool:
            return (await message_row(db_engine, live)).stream_sequence >= 20

        await wait_for(streamed_for_a_while)
        second = await insert_streaming_answer(db_engine, conversation, db_id(owner.id), "two")
        await wait_for(lambda: has_status(db_engine, second, "failed"))
        assert await has_status(db_engine, live, "streaming")

        await wait_for(lambda: has_status(db_engine, live, "completed"), seconds=60)

    answer = await message_row(db_engine, live)
    assert answer.content == full_reply(question)
    assert answer.error_code is None
    [usage] = await usage_rows(db_engine, live)
    assert usage.status == "success"
    assert usage.tokens_estimated is False
    for stale, text in ((first, "one"), (second, "two")):
        row = await message_row(db_engine, stale)
        assert (row.error_code, row.content) == ("GENERATION_INTERRUPTED", text)
        [stale_usage] = await usage_rows(db_engine, stale)
        assert stale_usage.status == "error"
        assert stale_usage.tokens_estimated is True
    await assert_totals_match_usage(db_engine, conversation)


async def test_shutdown_mid_answer_closes_it_as_interrupted_with_its_text(
    settings, redis_url, gql, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(gql, owner, workspace)
    question = "Interrupt this answer"
    # On Redis, the delta log outlives the app: it shows what was streamed before shutdown.
    log = RedisStreamLog(redis_url, 60)
    try:
        async with served(settings, redis_url=redis_url, mock_tokens_per_second=5) as server:
            turn = await send(server.gql, owner, conversation, question)
            answer_id = db_id(turn["assistantMessage"]["id"])

            async def some_deltas() -> bool:
                return len(await log.read(answer_id)) >= 3

            await wait_for(some_deltas)
            assert server.app.state.synapse.generations.is_running(answer_id)
        streamed = await log.read(answer_id)
    finally:
        await log.close()

    assert [d.sequence for d in streamed] == list(range(1, len(streamed) + 1))
    text = "".join(d.text for d in streamed)
    answer = await message_row(db_engine, answer_id)
    assert answer.status == "failed"
    assert answer.error_code == "GENERATION_INTERRUPTED"
    assert answer.completed_at is not None
    assert len(answer.content) > 0
    assert answer.content == text
    assert answer.stream_sequence == len(streamed)
    reply = full_reply(question)
    assert len(text) < len(reply)
    assert reply.startswith(text)

    [usage] = await usage_rows(db_engine, answer_id)
    assert usage.status == "error"
    assert usage.tokens_estimated is True
    assert usage.input_tokens > 0
    assert usage.output_tokens == count_tokens("synapse-dev", "mock", text)[0]
    assert (answer.input_tokens, answer.output_tokens) == (usage.input_tokens, usage.output_tokens)
    await assert_totals_match_usage(db_engine, conversation)


async def test_checkpoints_save_the_text_while_it_streams(
    settings, gql, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(gql, owner, workspace)
    question = "Checkpoint test"
    seen: dict[int, tuple[str, Any]] = {}
    async with served(settings, stream_checkpoint_seconds=0.1, mock_tokens_per_second=10) as server:
        turn = await send(server.gql, owner, conversation, question)
        answer_id = db_id(turn["assistantMessage"]["id"])

        async def completed_meanwhile() -> bool:
            row = await message_row(db_engine, answer_id)
            if row.status == "streaming" and row.stream_sequence > 0:
                seen.setdefault(row.stream_sequence, (row.content, row.updated_at))
            return row.status != "streaming"

        await wait_for(completed_meanwhile, seconds=60)
        deltas = await server.app.state.synapse.stream_log.read(answer_id)

    final = await message_row(db_engine, answer_id)
    assert final.status == "completed"
    assert final.content == full_reply(question)
    assert final.stream_sequence == len(deltas)
    # Several checkpoints before the end, each the text of the deltas up to its sequence.
    assert len(seen) >= 2, seen
    sequences = sorted(seen)
    assert sequences[0] < final.stream_sequence
    for sequence in sequences:
        content, _ = seen[sequence]
        assert content == "".join(d.text for d in deltas[:sequence])
        assert content
        assert final.content.startswith(content)
    stamps = [seen[s][1] for s in sequences]
    assert stamps == sorted(stamps)
    assert stamps[0] < stamps[-1]


async def insert_worker(
    engine: AsyncEngine, host: str, journal: Path | None, heartbeat_age: float
) -> uuid.UUID:
    """A ``generation_workers`` row last renewed ``heartbeat_age`` seconds ago."""
    worker_id = uuid.uuid4()
    await execute(
        engine,
        "INSERT INTO generation_workers (id, hostname, pid, journal_dir, heartbeat_at)"
        " VALUES (:id, :host, 0, :journal, now() - make_interval(secs => :age))",
        id=worker_id,
        host=host,
        journal=None if journal is None else str(journal),
        age=heartbeat_age,
    )
    return worker_id


@asynccontextmanager
async def renewing(engine: AsyncEngine, worker_id: uuid.UUID) -> AsyncIterator[None]:
    """Renew ``worker_id``'s lease every 0.1 s inside the block, as a live process does
    (a loaded machine may take longer than a short lease between two statements)."""

    async def renew() -> None:
        while True:
            await execute(
                engine,
                "UPDATE generation_workers SET heartbeat_at = now() WHERE id = :w",
                w=worker_id,
            )
            await asyncio.sleep(0.1)

    task = asyncio.create_task(renew())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def under_lease(
    engine: AsyncEngine, conversation: dict, user_id: uuid.UUID, worker_id: uuid.UUID
) -> uuid.UUID:
    """A freshly checkpointed streaming answer ("par", sequence 1) of ``worker_id``."""
    message_id = await insert_streaming_answer(engine, conversation, user_id, "par", 0)
    await execute(
        engine, "UPDATE messages SET worker_id = :w WHERE id = :m", w=worker_id, m=message_id
    )
    return message_id


async def test_answers_of_processes_whose_lease_expired_are_closed_within_seconds(
    settings, tmp_path, gql, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(gql, owner, workspace)
    user_id = db_id(owner.id)
    # Given processes that stopped renewing their lease a minute ago (far less than the
    # staleness timer), one of this host that journaled its deltas, one that used Redis,
    # one of another host with a journal this process cannot read, and a live one,
    journal_dir = tmp_path / "dead-streams"
    here = await insert_worker(db_engine, this_host(), journal_dir, 60)
    redis_worker = await insert_worker(db_engine, "elsewhere", None, 60)
    other_host = await insert_worker(db_engine, "elsewhere", tmp_path / "nowhere", 60)
    alive = await insert_worker(db_engine, "elsewhere", None, 0)
    journaled = await under_lease(db_engine, conversation, user_id, here)
    journal = DeltaJournal(journal_dir)
    for delta in (Delta(1, 0, "par"), Delta(2, 3, "tial"), Delta(3, 7, " text")):
        journal.append(journaled, delta)
    journal.release(journaled)
    on_redis = await under_lease(db_engine, conversation, user_id, redis_worker)
    unreadable = await under_lease(db_engine, conversation, user_id, other_host)
    live = await under_lease(db_engine, conversation, user_id, alive)

    # when a live process sweeps (every heartbeat) while the other live one renews,
    async with (
        renewing(db_engine, alive),
        served(settings, worker_heartbeat_seconds=0.1, worker_lease_seconds=1),
    ):
        await wait_for(lambda: has_status(db_engine, journaled, "failed"))
        await wait_for(lambda: has_status(db_engine, on_redis, "failed"))

    # the answers of the dead processes are closed with all the text they streamed,
    closed = await message_row(db_engine, journaled)
    assert (closed.content, closed.stream_sequence) == ("partial text", 3)
    assert closed.error_code == "GENERATION_INTERRUPTED"
    assert not journal.path(journaled).exists()
    assert (await message_row(db_engine, on_redis)).content == "par"
    for message_id in (journaled, on_redis):
        [usage] = await usage_rows(db_engine, message_id)
        assert (usage.status, usage.error_code) == ("error", "GENERATION_INTERRUPTED")
    # and the others are left to their process (or, unreadable, to the staleness timer).
    for message_id in (unreadable, live):
        assert await has_status(db_engine, message_id, "streaming")
        assert await usage_rows(db_engine, message_id) == []
    await assert_totals_match_usage(db_engine, conversation)


async def test_a_server_holds_a_lease_over_its_answers_and_gives_it_up_at_shutdown(
    settings, gql, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(gql, owner, workspace)
    async with served(settings, worker_heartbeat_seconds=0.1, mock_tokens_per_second=5) as server:
        lease = server.app.state.synapse.generations.lease
        turn = await send(server.gql, owner, conversation, "Lease this answer")
        answer_id = db_id(turn["assistantMessage"]["id"])

        async def claimed() -> bool:
            worker = await scalar(
                db_engine, "SELECT worker_id FROM messages WHERE id = :m", m=answer_id
            )
            return worker == lease.id

        await wait_for(claimed)
        first = await heartbeat_of(db_engine, lease.id)

        async def renewed() -> bool:
            return await heartbeat_of(db_engine, lease.id) > first

        await wait_for(renewed)
        assert await has_status(db_engine, answer_id, "streaming")

    # Shut down cleanly: its answer closed by itself, its lease row gone.
    assert (
        await fetch(db_engine, "SELECT 1 FROM generation_workers WHERE id = :w", w=lease.id) == []
    )
    assert (await message_row(db_engine, answer_id)).status == "failed"
    assert len(await usage_rows(db_engine, answer_id)) == 1


async def heartbeat_of(engine: AsyncEngine, worker_id: uuid.UUID) -> Any:
    return await scalar(
        engine, "SELECT heartbeat_at FROM generation_workers WHERE id = :w", w=worker_id
    )


async def test_the_answer_row_is_under_the_lease_when_send_message_returns(
    app, gql, make_user, make_workspace, db_engine, monkeypatch
) -> None:
    """Given a server whose generations are held back (they never get to run), when a
    question is sent, then the answer row already names this process's lease: a crash
    right after the insert is found by the lease, not only by the staleness timer."""
    generations = app.state.synapse.generations
    held: list[Any] = []
    monkeypatch.setattr(generations, "start", held.append)
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(gql, owner, workspace)

    turn = await send(gql, owner, conversation, "Whose answer is this?")

    answer_id = db_id(turn["assistantMessage"]["id"])
    worker = await scalar(db_engine, "SELECT worker_id FROM messages WHERE id = :m", m=answer_id)
    assert [job.message_id for job in held] == [answer_id]
    assert worker == generations.lease.id
