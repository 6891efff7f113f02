"""Every token its own delta: the pumps of answers streaming at once hand their deltas over
together (one Redis round trip for all), and each delta still reaches its subscriber as a
message of its own, in memory and on Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest

from synapse_gql.chat.pump import DeltaPump
from synapse_gql.realtime import Broadcaster, Delta, message_channel
from synapse_gql.realtime.events import (
    AddedEvent,
    DeltaEvent,
    FinishedEvent,
    decode,
    decode_delta,
    encode,
)
from synapse_gql.realtime.stream_log import Entry, MemoryStreamLog
from synapse_gql.realtime.subscription import Subscription
from tests.chat_helpers import new_conversation, send, served
from tests.helpers import db_id
from tests.test_chat_stream import contiguous_text
from tests.ws_client import connect

ANSWERS = 4
FIXED_ID = uuid.UUID(int=7)
TOKENS = 6


class SlowLog:
    """A stream log whose every batch takes a round trip; it keeps the batches."""

    immediate = False

    def __init__(self) -> None:
        self.batches: list[list[tuple[uuid.UUID, Delta]]] = []

    async def append_batch(self, entries: Sequence[Entry]) -> None:
        self.batches.append([(message_id, delta) for message_id, delta, _ in entries])
        await asyncio.sleep(0.01)


async def test_pumps_of_several_answers_send_in_one_batch() -> None:
    log = SlowLog()
    pumps = [DeltaPump(log, uuid.uuid4(), uuid.uuid4()) for _ in range(3)]  # type: ignore[arg-type]
    first, second, third = pumps
    for pump, token in ((first, "a"), (second, "b"), (third, "c")):
        pump.push(token)
    await asyncio.sleep(0)  # the batch is in flight: the first pump's next tokens wait
    first.push(" d")
    first.push(" e")
    assert [await pump.close() for pump in pumps] == [3, 1, 1]

    # The tokens that waited go out in one batch, each its own delta.
    assert [[d.text for _, d in batch] for batch in log.batches] == [["a", "b", "c"], [" d", " e"]]
    placed = [(message_id, d.sequence, d.offset) for message_id, d in log.batches[1]]
    assert placed == [(first._message_id, 2, 1), (first._message_id, 3, 3)]
    assert first.text == "a d e"


async def test_a_delta_is_published_as_the_event_encode_writes() -> None:
    message_id = uuid.uuid4()

    class Keep(SlowLog):
        payloads: list[str] = []

        async def append_batch(self, entries: Sequence[Entry]) -> None:
            self.payloads += [payload for _, _, pubs in entries for _, payload in pubs]

    log = Keep()
    pump = DeltaPump(log, message_id, uuid.uuid4())  # type: ignore[arg-type]
    pump.push('é "q" 🙂')
    await pump.close()
    events = [decode(payload) for payload in log.payloads]
    assert events == [DeltaEvent(message_id=message_id, sequence=1, offset=0, text='é "q" 🙂')] * 2
    # The token path's reader of deltas reads the same, without the model.
    fast = [decode_delta(payload) for payload in log.payloads]
    assert fast == [(str(message_id), Delta(1, 0, 'é "q" 🙂'))] * 2


@pytest.mark.parametrize(
    "payload",
    [
        encode(AddedEvent(message_id=FIXED_ID)),
        encode(FinishedEvent(message_id=FIXED_ID, sequence=3, status="completed")),
        '{"type": "delta", "messageId": "x", "sequence": "1", "offset": 0, "text": "a"}',
        '{"type": "delta", "messageId": "x", "sequence": 1, "offset": 0, "text": null}',
        '{"type": "delta", "messageId": "x", "sequence": true, "offset": 0, "text": "a"}',
        '{"type": "delta", "sequence": 1, "offset": 0, "text": "a"}',
        '["delta"]',
        "{not json",
    ],
)
def test_the_token_paths_reader_takes_only_well_formed_deltas(payload: str) -> None:
    assert decode_delta(payload) is None


async def test_an_in_memory_log_has_each_delta_when_push_returns() -> None:
    broadcaster = Broadcaster("memory://")
    await broadcaster.connect()
    log = MemoryStreamLog(broadcaster, 60)
    message_id = uuid.uuid4()
    pump = DeltaPump(log, message_id, uuid.uuid4())
    try:
        async with broadcaster.subscribe(message_channel(message_id)) as subscription:
            pump.push("a")
            pump.push(" b")
            # No await since the pushes: each token is logged and delivered, its own delta.
            events = [decode(payload) for payload in subscription.take_buffered()]
            assert [(e.sequence, e.text) for e in events if isinstance(e, DeltaEvent)] == [
                (1, "a"),
                (2, " b"),
            ]
            assert [d.text for d in await log.read(message_id)] == ["a", " b"]
        assert await pump.close() == 2
    finally:
        await log.close()
        await broadcaster.disconnect()


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_answers_at_once_reach_subscribers_one_delta_per_token(
    settings, make_user, make_workspace, backend, request
) -> None:
    # A token every 100 ms: far slower than a batch, so no two tokens share a delta.
    changes: dict[str, object] = {"mock_tokens_per_second": 10}
    if backend == "redis":
        changes["redis_url"] = request.getfixturevalue("redis_url")
    async with served(settings, **changes) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        conversations = [
            await new_conversation(server.gql, owner, workspace) for _ in range(ANSWERS)
        ]
        turns = await asyncio.gather(
            *(
                send(server.gql, owner, conversation, f"Question {index}", maxTokens=TOKENS)
                for index, conversation in enumerate(conversations)
            )
        )
        async with connect(server.ws_url, owner.token) as socket:
            operations = [
                await socket.start("MessageStream", messageId=turn["assistantMessage"]["id"])
                for turn in turns
            ]
            streams = await asyncio.gather(*(op.until_end("messageStream") for op in operations))
        log = server.app.state.synapse.stream_log
        for turn, events in zip(turns, streams, strict=True):
            deltas, end = events[:-1], events[-1]
            assert end["__typename"] == "MessageCompleted", end
            assert len(deltas) == TOKENS
            assert contiguous_text(deltas) == end["message"]["content"]
            assert len(await log.read(db_id(turn["assistantMessage"]["id"]))) == TOKENS


async def test_a_listener_takes_the_messages_a_waiting_reader_has_not_seen() -> None:
    subscription = Subscription("channel", 8)
    heard: list[str] = []

    def hear() -> None:
        message = subscription.alone()
        if message is not None and message != "left":
            heard.append(message)
            subscription.take_buffered()

    subscription.listener = hear
    reader = asyncio.create_task(anext(subscription))
    await asyncio.sleep(0)  # the reader waits for a message
    subscription.offer("a")
    subscription.offer("b")
    assert heard == ["a", "b"]
    subscription.offer("left")  # the listener leaves it: the reader gets it, then "c"
    subscription.offer("c")
    assert heard == ["a", "b"]
    assert await reader == "left"
    assert subscription.alone() is None  # the reader is not waiting
    assert await anext(subscription) == "c"
