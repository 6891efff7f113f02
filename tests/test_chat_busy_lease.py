"""A process too busy to renew its lease on time keeps its own answers; one that stops
renewing for good still has them taken over by a live process."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.llm.mock_provider import mock_reply
from synapse_gql.llm.types import ChatMessage
from tests.chat_helpers import new_conversation, send, served, wait_for
from tests.helpers import db_id, execute, fetch

# Renewed (and swept) every 0.1 s; taken for dead after 0.6 s without a renewal.
SHORT_LEASE = {"worker_heartbeat_seconds": 0.1, "worker_lease_seconds": 0.6}
# The loop is blocked this long: six leases, sixty renewal intervals.
BLOCKED_SECONDS = 3.6


async def answer(engine: AsyncEngine, message_id: uuid.UUID) -> Any:
    [row] = await fetch(
        engine,
        "SELECT status, error_code, content, worker_id FROM messages WHERE id = :m",
        m=message_id,
    )
    return row


async def lapse(engine: AsyncEngine, worker_id: uuid.UUID) -> None:
    """Date the lease's last renewal an hour back."""
    await execute(
        engine,
        "UPDATE generation_workers SET heartbeat_at = now() - interval '1 hour' WHERE id = :w",
        w=worker_id,
    )


def stop_renewing(lease: Any) -> None:
    async def renew() -> None:
        return None

    lease.renew = renew


async def test_a_blocked_event_loop_does_not_make_a_process_cut_off_its_own_answer(
    settings, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    async with served(settings, mock_tokens_per_second=15, **SHORT_LEASE) as server:
        conversation = await new_conversation(server.gql, owner, workspace)
        turn = await send(server.gql, owner, conversation, "Keep this answer going")
        answer_id = db_id(turn["assistantMessage"]["id"])
        lease = server.app.state.synapse.generations.lease
        renew = lease.renew
        # Given a process whose renewal falls behind (its lease looks expired) and whose
        # event loop is blocked far longer than a renewal interval,
        stop_renewing(lease)
        await lapse(db_engine, lease.id)
        generations = server.app.state.synapse.generations
        swept = generations.sweeps
        time.sleep(BLOCKED_SECONDS)  # noqa: ASYNC251 (blocks the server's loop on purpose)
        # when its sweeper runs several times meanwhile,
        await wait_for(lambda: _swept(generations, swept + 5), seconds=10)
        assert (await answer(db_engine, answer_id)).status == "streaming"
        lease.renew = renew
        # the answer is not cut off: it ends complete, under this process's lease.
        await wait_for(lambda: _status_is(db_engine, answer_id, "completed"), seconds=30)
    row = await answer(db_engine, answer_id)
    assert (row.error_code, row.worker_id) == (None, lease.id)
    assert row.content == mock_reply([ChatMessage("user", "Keep this answer going")])


async def test_a_process_that_stops_renewing_has_its_answers_taken_over(
    settings, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    async with (
        served(settings, **SHORT_LEASE) as live,
        served(settings, mock_tokens_per_second=4, **SHORT_LEASE) as silent,
    ):
        conversation = await new_conversation(silent.gql, owner, workspace)
        turn = await send(silent.gql, owner, conversation, "Who takes this over")
        answer_id = db_id(turn["assistantMessage"]["id"])
        # Given a process that generates an answer and then stops renewing its lease,
        silent_lease = silent.app.state.synapse.generations.lease
        stop_renewing(silent_lease)
        # the live process closes that answer once the lease has expired.
        await wait_for(lambda: _status_is(db_engine, answer_id, "failed"), seconds=20)
        assert live.app.state.synapse.generations.lease.id != silent_lease.id
    row = await answer(db_engine, answer_id)
    assert (row.error_code, row.worker_id) == ("GENERATION_INTERRUPTED", silent_lease.id)


async def _status_is(engine: AsyncEngine, message_id: uuid.UUID, status: str) -> bool:
    return (await answer(engine, message_id)).status == status


async def _swept(manager: Any, count: int) -> bool:
    return manager.sweeps >= count
