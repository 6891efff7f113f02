"""The events of one commit go out together: with Redis, one pipelined round trip for all
of them (not one per event), in order."""

from __future__ import annotations

from typing import Any

from synapse_gql.db import Database
from synapse_gql.realtime import Broadcaster, publisher_for
from synapse_gql.realtime.events import decode
from tests.realtime_helpers import fresh_channel, receive
from tests.test_pipeline import EVENTS


class RoundTrips:
    """Counts the PUBLISH round trips of a Redis client: single calls and pipelines."""

    def __init__(self, client: Any) -> None:
        self.count = 0
        self._publish, self._pipeline = client.publish, client.pipeline
        client.publish, client.pipeline = self.publish, self.pipeline

    async def publish(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return await self._publish(*args, **kwargs)

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return self._pipeline(*args, **kwargs)


async def test_a_commit_publishes_its_events_in_one_round_trip(
    redis_url: str, database_url: str
) -> None:
    broadcaster = Broadcaster(redis_url)
    await broadcaster.connect()
    db = Database(database_url)
    publisher = publisher_for(broadcaster)
    channel = fresh_channel()
    try:
        trips = RoundTrips(broadcaster._backend._client)  # type: ignore[attr-defined]
        async with broadcaster.subscribe(channel) as subscription:
            async with db.transaction() as session:
                for event in EVENTS[:4]:
                    publisher.publish(session, channel, event)
            await publisher.sent(session)
            received = await receive(subscription, 4)
        assert [decode(payload) for payload in received] == EVENTS[:4]
        assert trips.count == 1
    finally:
        await db.dispose()
        await broadcaster.disconnect()
