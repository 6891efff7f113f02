"""The subscribers of one feed that sent the same document, operation name and variables:
each feed item is executed once for all of them (the end once per viewer, whose rights
shape its ``usage``). A delta is not executed at all when the document's selection on it
has a template (``templates``): its payload is written from the delta directly, and
:meth:`EventGroup.deliver_now` sends such deltas as soon as the feed has them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from graphql.execution import Executor

from synapse_gql.chat.streams import AnswerDelta, Finished
from synapse_gql.chat.types import MessageDelta, ending
from synapse_gql.realtime.fanout.payloads import (
    encode_result,
    execute_event,
    failure_payload,
)
from synapse_gql.realtime.fanout.subscriber import Subscriber, ViewerKey
from synapse_gql.realtime.fanout.templates import delta_template

if TYPE_CHECKING:
    from synapse_gql.realtime.fanout.feed import AnswerFeed

END_CONCURRENCY = 4


class EventGroup:
    """Subscribers sharing one executor; payloads cached by feed item index."""

    def __init__(self, feed: AnswerFeed, executor: Executor) -> None:
        self.feed = feed
        self.executor = executor
        self.template = delta_template(executor)
        self.subscribers: list[Subscriber] = []
        self._payloads: dict[int, str] = {}
        self._endings: dict[ViewerKey, str] = {}
        self._failure_payload: str | None = None
        self._delivering = False  # :meth:`deliver` runs (and may be awaiting)

    def deliver_now(self) -> bool:
        """:meth:`deliver` without an await, as far as it needs none: send every
        subscriber the deltas it has not considered yet, from the template. False when
        something is left for :meth:`deliver` (an item that is not a delta, no template,
        or :meth:`deliver` is running: it goes on in order)."""
        if self.template is None or self._delivering:
            return False
        items = self.feed.items
        for subscriber in self.subscribers:
            while subscriber.active and subscriber.position < len(items):
                index = subscriber.position
                item = items[index]
                if not isinstance(item, AnswerDelta):
                    return False
                subscriber.position += 1
                if item.delta.sequence > subscriber.after:
                    subscriber.send(self._payloads.get(index) or self._render(index, item))
        return True

    async def deliver(self) -> None:
        """Send every subscriber the items it has not considered yet, in order; finish
        those that reached the end of an ended feed."""
        self._delivering = True
        try:
            await self._deliver_all()
        finally:
            self._delivering = False

    async def _deliver_all(self) -> None:
        feed = self.feed
        items = feed.items
        if feed.ended and items and isinstance(items[-1], Finished):
            await self._prepare_endings(items[-1])
        for subscriber in list(self.subscribers):
            while subscriber.active and subscriber.position < len(items):
                index = subscriber.position
                subscriber.position += 1
                item = items[index]
                if isinstance(item, AnswerDelta):
                    if item.delta.sequence <= subscriber.after:
                        continue
                    payload = self._payloads.get(index) or await self._delta(index, item)
                elif isinstance(item, Finished):
                    payload = await self._ending(subscriber.viewer_key, subscriber, item)
                else:
                    continue
                subscriber.send(payload)
            if feed.ended and subscriber.active and subscriber.position >= len(items):
                if feed.failure is not None:
                    subscriber.send(self._failure(feed.failure))
                subscriber.finish()

    def _failure(self, error: Exception) -> str:
        """The masked error of a broken feed, encoded once (one error id logged)."""
        if self._failure_payload is None:
            self._failure_payload = failure_payload(error)
        return self._failure_payload

    async def _delta(self, index: int, item: AnswerDelta) -> str:
        if self.template is not None:
            return self._render(index, item)
        event = MessageDelta.from_delta(item.message_id, item.delta)
        payload = encode_result(await execute_event(self.executor, event))
        self.feed.hub.executions += 1
        self._payloads[index] = payload
        return payload

    def _render(self, index: int, item: AnswerDelta) -> str:
        """The payload of a delta from the template (kept for the group's others)."""
        assert self.template is not None
        payload = self._payloads[index] = self.template.render(item.message_id, item.delta)
        self.feed.hub.rendered += 1
        return payload

    async def _prepare_endings(self, finished: Finished) -> None:
        todo = {s.viewer_key: s for s in self.subscribers if s.active}
        todo = {key: s for key, s in todo.items() if key not in self._endings}
        limit = asyncio.Semaphore(END_CONCURRENCY)

        async def one(key: ViewerKey, subscriber: Subscriber) -> None:
            async with limit:
                await self._ending(key, subscriber, finished)

        await asyncio.gather(*(one(key, s) for key, s in todo.items()))

    async def _ending(self, key: ViewerKey, subscriber: Subscriber, finished: Finished) -> str:
        """The end, executed once per viewer with fresh loaders (the committed rows)."""
        payload = self._endings.get(key)
        if payload is not None:
            return payload
        context = subscriber.context
        context.refresh_loaders()
        result = await execute_event(self.executor, ending(finished), context)
        self.feed.hub.executions += 1
        payload = self._endings[key] = encode_result(result)
        return payload
