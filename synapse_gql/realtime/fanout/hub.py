"""This process's hub of shared feeds: one :class:`AnswerFeed` per streamed answer, the
subscribe documents and executors it has seen, the viewers' access watches and the
access checks in flight."""

from __future__ import annotations

import uuid

from strawberry import Schema

from synapse_gql.realtime.fanout.checks import SharedChecks
from synapse_gql.realtime.fanout.documents import SHARED_FEED_FIELDS, FeedDocuments
from synapse_gql.realtime.fanout.feed import AnswerFeed
from synapse_gql.realtime.fanout.payloads import Executors
from synapse_gql.realtime.fanout.watches import ViewerWatches
from synapse_gql.state import AppState


class FeedHub:
    """Shared feeds by answer; ``executions`` counts the events executed (one per group
    and delta, one per group and viewer for an answer's end), ``rendered`` the deltas
    written from a template instead (one per group and delta)."""

    def __init__(self, state: AppState, schema: Schema) -> None:
        self.state = state
        self.schema = schema
        self.documents = FeedDocuments(state.settings.max_query_tokens, SHARED_FEED_FIELDS)
        self.executors = Executors(schema)
        self.watches = ViewerWatches(state.realtime)
        self.checks = SharedChecks()
        self.feeds: dict[uuid.UUID, AnswerFeed] = {}
        self.executions = 0
        self.rendered = 0

    def feed(self, message_id: uuid.UUID) -> AnswerFeed:
        """The running feed of ``message_id``, started when there is none."""
        feed = self.feeds.get(message_id)
        if feed is None:
            feed = self.feeds[message_id] = AnswerFeed(self, message_id)
        return feed

    def forget(self, feed: AnswerFeed) -> None:
        """Start a new feed for the next subscriber of ``feed``'s answer."""
        if self.feeds.get(feed.message_id) is feed:
            del self.feeds[feed.message_id]

    def close(self) -> None:
        """Stop every feed and watch (at shutdown; their sockets are closing)."""
        for feed in list(self.feeds.values()):
            feed.stop()
        self.watches.close()


def hub_of(state: AppState, schema: Schema) -> FeedHub:
    """The process's hub (made on first use)."""
    if state.feed_hub is None:
        state.feed_hub = FeedHub(state, schema)
    return state.feed_hub
