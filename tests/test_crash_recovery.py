"""A server killed with SIGKILL mid-answer: a live process closes the answer within
seconds, keeps every character any subscriber was sent, meters it once, and tells the
subscribers that are still connected.

* Without Redis (one process, deltas journaled to files under the data directory): the
  server restarted on the same data directory sees at start-up that the process holding
  the lease is gone (long before the lease would expire), and reads its journal.
* With Redis: a second live process notices the expired lease and closes the answer, and
  its subscriber receives the end.

The measured seconds from the kill to the close are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import Any

from synapse_gql.llm.mock_provider import mock_reply
from synapse_gql.llm.types import ChatMessage
from tests.chat_helpers import new_conversation, send
from tests.helpers import db_id, fetch
from tests.server_process import ServerProcess, server_process, server_processes
from tests.ws_client import Operation, Socket, connect

POLL_INTERVAL = 0.05
# 400 polls of 50 ms: a bound of 20 s, far above the lease of the servers below.
POLL_ATTEMPTS = 400
DELTAS_BEFORE_KILL = 5
# Short leases, so that the test waits little; the mock slowed down so the answer is
# still streaming when the server is killed.
LEASED = {
    "mock_tokens_per_second": 8,
    "worker_heartbeat_seconds": 0.3,
    "worker_lease_seconds": 1.5,
    "stream_checkpoint_seconds": 5,
}


# A lease far longer than the test: only a restart on the same host closes the answer (the
# test's own in-process app, behind ``gql``, has a longer lease still and no heartbeat).
LONG_LEASE = {**LEASED, "worker_lease_seconds": 120}


def full_reply(question: str) -> str:
    """What the mock model answers to the first question of a conversation."""
    return mock_reply([ChatMessage("user", question)])


async def answer_row(db_engine: Any, message_id: uuid.UUID) -> Any:
    [row] = await fetch(
        db_engine,
        "SELECT status, content, stream_sequence, error_code, output_tokens, worker_id"
        " FROM messages WHERE id = :m",
        m=message_id,
    )
    return row


async def usage_rows(db_engine: Any, message_id: uuid.UUID) -> list[Any]:
    return await fetch(
        db_engine,
        "SELECT status, error_code, output_tokens, tokens_estimated FROM usage_logs"
        " WHERE message_id = :m",
        m=message_id,
    )


async def closed_after_kill(db_engine: Any, message_id: uuid.UUID, killed_at: float) -> float:
    """Poll (a bounded number of times) until the answer is no longer streaming; the
    seconds from the kill."""
    loop = asyncio.get_running_loop()
    for _ in range(POLL_ATTEMPTS):
        if (await answer_row(db_engine, message_id)).status != "streaming":
            return loop.time() - killed_at
        await asyncio.sleep(POLL_INTERVAL)
    raise AssertionError(f"the answer was still streaming after {POLL_ATTEMPTS} polls")


async def deltas_then_kill(server: ServerProcess, socket: Socket, stream: Operation) -> list[dict]:
    """Read some deltas, SIGKILL the server, then take every delta that reached the
    client before its connection dropped."""
    seen = []
    for _ in range(DELTAS_BEFORE_KILL):
        event = (await stream.next())["messageStream"]
        assert event["__typename"] == "MessageDelta", event
        seen.append(event)
    server.process.kill()
    await server.process.wait()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(socket._reader, 10)
    queue = socket._queues[stream.id]
    while not queue.empty():
        payload = queue.get_nowait()
        if payload is not None:
            seen.append(payload["data"]["messageStream"])
    return seen


def seen_text(deltas: list[dict]) -> str:
    """The text of contiguous deltas 1, 2, 3..."""
    assert [d["sequence"] for d in deltas] == list(range(1, len(deltas) + 1)), deltas
    assert all(d["__typename"] == "MessageDelta" for d in deltas), deltas
    return "".join(d["text"] for d in deltas)


async def assert_closed_once_with(
    db_engine: Any, message_id: uuid.UUID, seen: str, question: str
) -> Any:
    """The answer closed as interrupted, its text a prefix of the reply holding all that
    was seen, and one estimated usage log of it."""
    row = await answer_row(db_engine, message_id)
    assert row.status == "failed", row
    assert row.error_code == "GENERATION_INTERRUPTED"
    assert row.content.startswith(seen), (row.content, seen)
    assert full_reply(question).startswith(row.content)
    assert len(row.content) < len(full_reply(question))
    [usage] = await usage_rows(db_engine, message_id)
    assert (usage.status, usage.error_code) == ("error", "GENERATION_INTERRUPTED")
    assert usage.tokens_estimated is True
    assert usage.output_tokens == row.output_tokens > 0
    return row


async def test_restarted_server_without_redis_recovers_the_journaled_answer(
    settings, tmp_path, gql, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(gql, owner, workspace)
    question = "Crash while answering this"
    data_dir = tmp_path / "data"
    loop = asyncio.get_running_loop()

    async with server_process(settings, "", data_dir, "first", **LONG_LEASE) as first:
        turn = await send(first.gql, owner, conversation, question)
        answer_id = turn["assistantMessage"]["id"]
        message_id = db_id(answer_id)
        async with connect(first.ws_url, owner.token) as socket:
            stream = await socket.start("MessageStream", messageId=answer_id)
            seen_deltas = await deltas_then_kill(first, socket, stream)
        seen = seen_text(seen_deltas)
        killed_at = loop.time()

    # The dead process left the answer streaming, under its lease, and its journal.
    row = await answer_row(db_engine, message_id)
    assert row.status == "streaming"
    assert row.worker_id is not None
    journal = Path(data_dir) / "streams" / f"{message_id}.jsonl"
    assert len(journal.read_text().splitlines()) >= len(seen_deltas)
    assert await usage_rows(db_engine, message_id) == []

    async with server_process(settings, "", data_dir, "second", **LONG_LEASE) as second:
        serving = loop.time() - killed_at
        # The start-up sweep runs before the server answers: closed by the time it serves.
        assert (await answer_row(db_engine, message_id)).status == "failed"
        took = await closed_after_kill(db_engine, message_id, killed_at)
        print(f"no Redis: restarted server serving {serving:.2f} s after kill -9")
        print(f"no Redis: answer closed {took:.2f} s after kill -9 (restart included)")
        async with connect(second.ws_url, owner.token) as socket:
            stream = await socket.start("MessageStream", messageId=answer_id)
            replay = await stream.until_end("messageStream")

    row = await assert_closed_once_with(db_engine, message_id, seen, question)
    assert not journal.exists()
    end = replay[-1]
    assert end["__typename"] == "MessageFailed", end
    assert end["code"] == "GENERATION_INTERRUPTED"
    assert end["message"]["content"] == row.content
    assert end["sequence"] == row.stream_sequence >= len(seen_deltas)


async def test_live_process_closes_the_answer_of_a_killed_one_over_redis(
    settings, redis_url, tmp_path, gql, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(gql, owner, workspace)
    question = "Crash the process generating this"
    servers = {"A": LEASED, "B": LEASED}
    loop = asyncio.get_running_loop()

    async with server_processes(settings, redis_url, tmp_path, servers) as (a, b):
        turn = await send(a.gql, owner, conversation, question)
        answer_id = turn["assistantMessage"]["id"]
        message_id = db_id(answer_id)
        async with connect(b.ws_url, owner.token) as socket:
            stream = await socket.start("MessageStream", messageId=answer_id)
            seen_events = []
            for _ in range(DELTAS_BEFORE_KILL):
                seen_events.append((await stream.next())["messageStream"])
            a.process.kill()
            await a.process.wait()
            killed_at = loop.time()
            # B's subscriber goes on receiving what A published before it died, then the
            # end that B's sweeper announces once A's lease has expired.
            rest = await stream.until_end("messageStream")
            ended_after = loop.time() - killed_at
            assert await stream.next() is None
        took = await closed_after_kill(db_engine, message_id, killed_at)
        print(f"Redis: answer closed by the live process {took:.2f} s after kill -9")
        print(f"Redis: its subscriber received the end {ended_after:.2f} s after kill -9")

    *more, end = rest
    seen = seen_text(seen_events + more)
    row = await assert_closed_once_with(db_engine, message_id, seen, question)
    assert end["__typename"] == "MessageFailed", end
    assert end["code"] == "GENERATION_INTERRUPTED"
    assert end["message"]["content"] == row.content
    assert end["sequence"] == row.stream_sequence == len(seen_events + more)
