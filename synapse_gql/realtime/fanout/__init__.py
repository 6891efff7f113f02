"""Subscriptions to one answer resolved once and sent to all its subscribers.

Per process, each streamed answer has one :class:`~.feed.AnswerFeed` (one channel
subscription, one cursor, the items so far in memory). Subscribers that sent the same
document, operation name and variables form a group: each delta is executed once per group,
encoded once, and the same payload is framed for every subscriber and queued on its
socket's :class:`~.writer.SocketWriter`. The WebSocket protocol handlers of ``protocols``
route such subscribes here (see ``documents`` for which); everything else keeps
Strawberry's path.
"""

from synapse_gql.realtime.fanout.hub import FeedHub, hub_of
from synapse_gql.realtime.fanout.protocols import FeedGraphQLWSHandler, FeedTransportWSHandler

__all__ = ["FeedGraphQLWSHandler", "FeedHub", "FeedTransportWSHandler", "hub_of"]
