"""The delta log of streamed answers, in memory and on a real Redis: replay after a
sequence, publication with each append, retention, and appends that were lost; the
journal files that let the in-process log outlive a crash."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from synapse_gql.realtime import Broadcaster, Delta, MemoryStreamLog, RedisStreamLog
from synapse_gql.realtime.journal import DeltaJournal
from synapse_gql.realtime.stream_log import READ_MARGIN, log_key
from tests.chat_helpers import wait_for
from tests.realtime_helpers import fresh_channel, fresh_client_name, receive, redis_client

RETENTION_SECONDS = 600


@dataclass
class Logged:
    """A stream log under test and a connected broadcaster on the same transport."""

    log: MemoryStreamLog | RedisStreamLog
    broadcaster: Broadcaster


@pytest.fixture(params=["memory", "redis"])
async def logged(request: pytest.FixtureRequest) -> AsyncIterator[Logged]:
    if request.param == "memory":
        broadcaster = Broadcaster("memory://")
        await broadcaster.connect()
        log: MemoryStreamLog | RedisStreamLog = MemoryStreamLog(broadcaster, RETENTION_SECONDS)
    else:
        url = request.getfixturevalue("redis_url")
        broadcaster = Broadcaster(url, client_name=fresh_client_name())
        await broadcaster.connect()
        log = RedisStreamLog(url, RETENTION_SECONDS)
    await log.connect()
    try:
        yield Logged(log, broadcaster)
    finally:
        await log.close()
        await broadcaster.disconnect()


def deltas(*sequences: int) -> list[Delta]:
    """Deltas numbered ``sequences``, each text naming its number, at consecutive offsets
    (the offsets a stream whose missing deltas never reached the log would have)."""
    made, offset = [], 0
    for sequence in sequences:
        text = f"<{sequence}>"
        made.append(Delta(sequence, offset, text))
        offset += len(text)
    return made


async def append_all(
    log: MemoryStreamLog | RedisStreamLog,
    message_id: uuid.UUID,
    items: list[Delta],
    channel: str | None = None,
) -> None:
    for delta in items:
        publications = [] if channel is None else [(channel, delta.to_json())]
        await log.append(message_id, delta, publications)


@pytest.mark.parametrize("after", [0, 1, 2, 3, 4, 5, 9])
async def test_read_after_returns_the_later_deltas_in_order(logged: Logged, after: int) -> None:
    message_id = uuid.uuid4()
    written = deltas(1, 2, 3, 4, 5)
    await append_all(logged.log, message_id, written)
    assert await logged.log.read(message_id, after=after) == written[after:]


async def test_logs_of_messages_are_separate(logged: Logged) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    await append_all(logged.log, first, deltas(1, 2, 3))
    await append_all(logged.log, second, deltas(1))
    assert [d.sequence for d in await logged.log.read(first)] == [1, 2, 3]
    assert [d.sequence for d in await logged.log.read(second)] == [1]
    assert await logged.log.read(uuid.uuid4()) == []


async def test_text_round_trips_unchanged(logged: Logged) -> None:
    message_id = uuid.uuid4()
    written = [Delta(1, 0, 'Ünïcode "quotes" \\ and\nlines'), Delta(2, 27, " 🙂 emoji")]
    await append_all(logged.log, message_id, written)
    assert await logged.log.read(message_id) == written


async def test_each_append_publishes_once_in_order(logged: Logged) -> None:
    message_id = uuid.uuid4()
    channel, other = fresh_channel(), fresh_channel()
    written = deltas(1, 2, 3, 4, 5)
    async with (
        logged.broadcaster.subscribe(channel) as subscription,
        logged.broadcaster.subscribe(other) as second,
    ):
        for delta in written:
            payload = delta.to_json()
            await logged.log.append(message_id, delta, [(channel, payload), (other, payload)])
        received = await receive(subscription, len(written))
        also = await receive(second, len(written))
        # Nothing more arrives: a marker published after the appends comes next.
        await logged.broadcaster.publish(channel, "marker")
        assert await receive(subscription, 1) == ["marker"]
    assert [Delta.from_json(m) for m in received] == written
    assert [Delta.from_json(m) for m in also] == written


async def test_a_subscriber_that_reads_the_log_after_subscribing_misses_nothing(
    logged: Logged,
) -> None:
    """The replay contract: subscribe first, read the log second; together (less the
    duplicates) they hold every delta once."""
    message_id, channel = uuid.uuid4(), fresh_channel()
    written = deltas(*range(1, 11))
    await append_all(logged.log, message_id, written[:4], channel)
    async with logged.broadcaster.subscribe(channel) as subscription:
        await append_all(logged.log, message_id, written[4:7], channel)
        replayed = await logged.log.read(message_id)
        await append_all(logged.log, message_id, written[7:], channel)
        live: list[Delta] = []
        while not live or live[-1].sequence < 10:
            live += [Delta.from_json(m) for m in await receive(subscription, 1)]
    merged = {d.sequence: d for d in replayed + live}
    assert [merged[s] for s in sorted(merged)] == written
    # Live: in order, everything appended since subscribing (the in-process transport may
    # also deliver appends it had not fanned out yet when the subscription started).
    live_sequences = [d.sequence for d in live]
    assert live_sequences == sorted(set(live_sequences))
    assert set(range(5, 11)) <= set(live_sequences)


async def test_a_lost_append_leaves_a_gap_and_nothing_else(logged: Logged) -> None:
    message_id = uuid.uuid4()
    await append_all(logged.log, message_id, deltas(1, 2, 4, 5))
    assert [d.sequence for d in await logged.log.read(message_id, after=0)] == [1, 2, 4, 5]
    assert [d.sequence for d in await logged.log.read(message_id, after=2)] == [4, 5]
    assert [d.sequence for d in await logged.log.read(message_id, after=3)] == [4, 5]
    assert [d.sequence for d in await logged.log.read(message_id, after=4)] == [5]


# 30 deltas logged, 70 lost (more than READ_MARGIN), then 70 logged: 100 in the log,
# numbered up to 170, each one's position in the list 70 below its number past the gap.
LOST = range(31, 101)
WITH_GAPS = [s for s in range(1, 171) if s not in LOST]


@pytest.mark.parametrize("after", [0, 29, 30, 50, 100, 101, 120, 140])
async def test_lost_appends_beyond_the_read_margin_fall_back_to_a_full_read(
    logged: Logged, after: int
) -> None:
    assert len(LOST) > READ_MARGIN
    assert len(WITH_GAPS) == 100
    message_id = uuid.uuid4()
    await append_all(logged.log, message_id, deltas(*WITH_GAPS))
    read = await logged.log.read(message_id, after=after)
    assert [d.sequence for d in read] == [s for s in WITH_GAPS if s > after]


@pytest.mark.parametrize("after", [164, 165, 169])
async def test_lost_appends_never_hide_the_last_deltas(logged: Logged, after: int) -> None:
    """``after`` so far past the number of logged deltas that the margin window starts
    beyond the end of the list: the deltas above ``after`` must still be read."""
    assert after - READ_MARGIN >= len(WITH_GAPS)
    message_id = uuid.uuid4()
    await append_all(logged.log, message_id, deltas(*WITH_GAPS))
    read = await logged.log.read(message_id, after=after)
    assert [d.sequence for d in read] == list(range(after + 1, 171))


async def test_reading_past_the_end_is_empty(logged: Logged) -> None:
    message_id = uuid.uuid4()
    await append_all(logged.log, message_id, deltas(*range(1, 151)))
    assert await logged.log.read(message_id, after=150) == []
    assert await logged.log.read(message_id, after=400) == []
    assert [d.sequence for d in await logged.log.read(message_id, after=149)] == [150]


async def test_redis_log_expires_within_the_retention(redis_url: str) -> None:
    log = RedisStreamLog(redis_url, 120)
    message_id = uuid.uuid4()
    try:
        await append_all(log, message_id, deltas(1, 2))
        async with redis_client(redis_url) as client:
            ttl = await client.ttl(log_key(message_id))
            assert 0 < ttl <= 120
            assert await client.llen(log_key(message_id)) == 2
            # Sliding: each append sets the expiry again.
            await client.expire(log_key(message_id), 5)
            await append_all(log, message_id, deltas(1, 2, 3)[2:])
            assert 5 < await client.ttl(log_key(message_id)) <= 120
    finally:
        await log.close()


async def test_memory_log_is_forgotten_after_the_retention() -> None:
    broadcaster = Broadcaster("memory://")
    await broadcaster.connect()
    log = MemoryStreamLog(broadcaster, 0.05)
    kept, forgotten = uuid.uuid4(), uuid.uuid4()
    try:
        await append_all(log, forgotten, deltas(1, 2))
        assert len(await log.read(forgotten)) == 2

        async def gone() -> bool:
            return not await log.read(forgotten)

        await wait_for(gone, seconds=10, interval=0.02)
        # A log appended to again starts over, and is kept while appends keep coming.
        await append_all(log, kept, deltas(1))
        await append_all(log, kept, deltas(1, 2)[1:])
        assert [d.sequence for d in await log.read(kept)] == [1, 2]
    finally:
        await log.close()
        await broadcaster.disconnect()
    assert await log.read(kept) == []


class JournalPeek:
    """A broadcaster that, at each publication, notes what the journal file holds."""

    def __init__(self, journal: DeltaJournal, message_id: uuid.UUID) -> None:
        self.journal = journal
        self.message_id = message_id
        self.seen_at_publish: list[list[Delta]] = []

    async def publish(self, channel: str, payload: str) -> None:
        self.seen_at_publish.append(self.journal.read(self.message_id))


async def test_journal_holds_each_delta_before_it_is_published(tmp_path: Path) -> None:
    message_id = uuid.uuid4()
    journal = DeltaJournal(tmp_path)
    peek = JournalPeek(DeltaJournal(tmp_path), message_id)
    log = MemoryStreamLog(peek, RETENTION_SECONDS, journal)  # type: ignore[arg-type]
    items = deltas(1, 2, 3)
    await append_all(log, message_id, items, fresh_channel())

    assert peek.seen_at_publish == [items[:1], items[:2], items[:3]]
    await log.close()


async def test_a_new_process_reads_the_journal_of_a_dead_one(tmp_path: Path) -> None:
    # Given a log whose process stopped without closing its answer (its file stays),
    message_id, other_id = uuid.uuid4(), uuid.uuid4()
    broadcaster = Broadcaster("memory://")
    await broadcaster.connect()
    try:
        dead = MemoryStreamLog(broadcaster, RETENTION_SECONDS, DeltaJournal(tmp_path))
        await append_all(dead, message_id, deltas(1, 2, 3))
        await append_all(dead, other_id, [Delta(1, 0, 'línea\nnueva "≠"')])
        await dead.close()

        # the log of the next process, on the same directory, reads it back,
        fresh = MemoryStreamLog(broadcaster, RETENTION_SECONDS, DeltaJournal(tmp_path))
        assert await fresh.read(message_id) == deltas(1, 2, 3)
        assert await fresh.read(message_id, after=2) == deltas(1, 2, 3)[2:]
        assert await fresh.read(other_id) == [Delta(1, 0, 'línea\nnueva "≠"')]

        # and once the answer is closed the file is gone.
        await fresh.discard(message_id)
        assert await fresh.read(message_id) == []
        assert not DeltaJournal(tmp_path).path(message_id).exists()
        assert DeltaJournal(tmp_path).path(other_id).exists()
        await fresh.close()
    finally:
        await broadcaster.disconnect()


def test_journal_is_read_up_to_a_damaged_line(tmp_path: Path) -> None:
    message_id = uuid.uuid4()
    journal = DeltaJournal(tmp_path)
    for delta in deltas(1, 2):
        journal.append(message_id, delta)
    journal.release(message_id)
    with journal.path(message_id).open("a") as file:
        file.write('[3, 6, "<3')  # cut short

    assert DeltaJournal(tmp_path).read(message_id) == deltas(1, 2)


async def test_closed_answer_discards_its_journal_but_keeps_its_log(tmp_path: Path) -> None:
    message_id = uuid.uuid4()
    broadcaster = Broadcaster("memory://")
    await broadcaster.connect()
    log = MemoryStreamLog(broadcaster, RETENTION_SECONDS, DeltaJournal(tmp_path))
    try:
        await append_all(log, message_id, deltas(1, 2))
        assert DeltaJournal(tmp_path).read(message_id) == deltas(1, 2)
        await log.discard(message_id)
        # Late subscribers of this process still replay it; a crash now would lose nothing
        # (the message row holds the text).
        assert await log.read(message_id) == deltas(1, 2)
        assert not DeltaJournal(tmp_path).path(message_id).exists()
    finally:
        await log.close()
        await broadcaster.disconnect()
