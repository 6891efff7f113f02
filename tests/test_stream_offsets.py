"""Stream offsets count UTF-16 code units, as JavaScript, Swift and Kotlin index strings:
a client that writes each delta's text at its offset rebuilds the answer, also past
emoji, skin-tone modifiers, joined emoji, combining marks and CJK, on a late join, on a
resume after a sequence, and when the end is caught up from the committed text."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from synapse_gql.chat.streams import Cursor
from synapse_gql.models import Message
from synapse_gql.realtime import Delta, utf16_length, utf16_tail
from tests.chat_helpers import new_conversation, send, wait_for
from tests.chat_helpers import served as serve_app
from tests.helpers import db_id
from tests.ws_client import connect

# A wave with a skin tone (2 code points, 4 UTF-16 units), a family joined by ZWJ,
# "é" as e + a combining acute accent, CJK (BMP: one unit each) and a flag.
QUESTION = "👋🏽 héllo 漢字かな 👨\u200d👩\u200d👧 cafe\u0301 🇫🇷 done"


def rebuild_utf16(deltas: list[dict[str, Any]], buffer: bytearray | None = None) -> str:
    """Write each delta's text at its offset into a UTF-16 buffer, as a JavaScript client
    does; each must start inside or just past what is already there."""
    buffer = bytearray() if buffer is None else buffer
    for delta in deltas:
        units = delta["text"].encode("utf-16-le")
        start = 2 * delta["offset"]
        assert start <= len(buffer), (delta, len(buffer) // 2)
        buffer[start : start + len(units)] = units
    return buffer.decode("utf-16-le")


def test_offsets_and_tails_count_utf16_code_units() -> None:
    assert [utf16_length(text) for text in ("a", "é", "e\u0301", "漢", "👋", "👋🏽")] == [
        1,
        1,
        2,
        1,
        2,
        4,
    ]
    delta = Delta(1, 3, "👋🏽 hi")
    assert delta.end == 3 + 4 + 3
    assert utf16_tail("👋🏽 héllo", 4) == " héllo"
    assert utf16_tail(QUESTION, utf16_length(QUESTION)) == ""
    assert utf16_tail(QUESTION, 0) == QUESTION


def test_the_catch_up_from_the_committed_text_starts_at_the_cursors_utf16_offset() -> None:
    """Given a subscriber that received deltas up to past the emoji and a message whose
    later deltas are not in the log, when the end is read from the committed text, then
    the rest starts at the subscriber's UTF-16 offset and completes the text."""
    pieces = ["👋🏽", " 漢字", " e\u0301", " 👨\u200d👩\u200d👧", " end"]
    content = "".join(pieces)
    cursor = Cursor()
    offset, deltas = 0, []
    for sequence, piece in enumerate(pieces[:3], start=1):
        deltas.append(Delta(sequence, offset, piece))
        offset = deltas[-1].end
    assert cursor.accept(deltas) == deltas
    message = Message(id=uuid.uuid4(), content=content, stream_sequence=len(pieces))
    [rest] = cursor.rest_of(message)
    assert (rest.sequence, rest.offset, rest.text) == (5, offset, " 👨\u200d👩\u200d👧 end")
    as_dicts = [{"offset": d.offset, "text": d.text} for d in [*deltas, rest]]
    assert rebuild_utf16(as_dicts) == content
    assert cursor.offset == utf16_length(content) != len(content)


def test_recovery_joins_logged_deltas_at_utf16_offsets() -> None:
    """Given a checkpoint holding an emoji and logged deltas after it, when a new process
    recovers the answer, then the deltas are appended (their offsets match UTF-16)."""
    from synapse_gql.chat.recovery import recovered_text

    checkpoint = "👋🏽 漢"
    message = Message(id=uuid.uuid4(), content=checkpoint, stream_sequence=2)
    first = Delta(3, utf16_length(checkpoint), " e\u0301")
    second = Delta(4, first.end, " 🇫🇷")
    assert recovered_text(message, [first, second]) == (checkpoint + " e\u0301 🇫🇷", 4)


@pytest.mark.parametrize("tokens_per_second", [0, 40])
async def test_every_delta_placed_at_its_offset_rebuilds_the_answer(
    settings, make_user, make_workspace, tokens_per_second
) -> None:
    """Given a question full of emoji, combining marks and CJK that the model echoes, when
    watching the answer (live, or after it ended), then writing every delta at its offset
    in a UTF-16 buffer gives the final text exactly."""
    async with serve_app(settings, mock_tokens_per_second=tokens_per_second) as server:
        owner = await make_user("owner")
        conversation = await new_conversation(server.gql, owner, await make_workspace(owner))
        turn = await send(server.gql, owner, conversation, QUESTION)
        answer = turn["assistantMessage"]
        async with connect(server.ws_url, owner.token) as socket:
            op = await socket.start("MessageStream", messageId=answer["id"])
            events = await op.until_end("messageStream")

    deltas, end = events[:-1], events[-1]
    content = end["message"]["content"]
    assert end["__typename"] == "MessageCompleted", end
    assert QUESTION in content
    assert rebuild_utf16(deltas) == content
    assert deltas[-1]["offset"] + utf16_length(deltas[-1]["text"]) == utf16_length(content)
    # The emoji come early: offsets past them differ from code-point counts.
    assert utf16_length(content) > len(content)


async def test_a_resume_after_sequence_k_continues_at_the_utf16_offset(
    settings, make_user, make_workspace
) -> None:
    """Given a subscriber that read k deltas past the emoji and disconnected, when it
    resumes with afterSequence=k, then the rest written at its offsets into the same
    UTF-16 buffer completes the final text."""
    k = 12
    async with serve_app(settings, mock_tokens_per_second=40) as server:
        owner = await make_user("owner")
        conversation = await new_conversation(server.gql, owner, await make_workspace(owner))
        turn = await send(server.gql, owner, conversation, QUESTION)
        answer = turn["assistantMessage"]
        async with connect(server.ws_url, owner.token) as socket:
            op = await socket.start("MessageStream", messageId=answer["id"])
            first = [(await op.next())["messageStream"] for _ in range(k)]  # type: ignore[index]

        async def logged_past_k() -> bool:
            log = server.app.state.synapse.stream_log
            return len(await log.read(db_id(answer["id"]), k)) > 2

        await wait_for(logged_past_k)  # the resume reads some deltas from the log
        async with connect(server.ws_url, owner.token) as socket:
            op = await socket.start("MessageStream", messageId=answer["id"], afterSequence=k)
            events = await op.until_end("messageStream")

    rest, end = events[:-1], events[-1]
    content = end["message"]["content"]
    buffer = bytearray(rebuild_utf16(first).encode("utf-16-le"))
    assert "👋🏽" in rebuild_utf16(first)
    assert [d["sequence"] for d in rest] == list(range(k + 1, k + 1 + len(rest)))
    assert rest[0]["offset"] == utf16_length(rebuild_utf16(first))
    assert rebuild_utf16(rest, buffer) == content
