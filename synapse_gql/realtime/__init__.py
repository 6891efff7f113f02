"""Realtime layer: pub/sub channels shared by the token-streaming subscriptions.

:func:`create_broadcaster` gives a :class:`Broadcaster` on Redis (``redis://``,
``rediss://``, ``unix://``) or in process (``memory://``) when no Redis is configured;
:mod:`~synapse_gql.realtime.channels` names the channels and
:mod:`~synapse_gql.realtime.events` types every payload, :class:`AfterCommitPublisher`
(:func:`publisher_for`) publishes them once the transaction that wrote their rows commits,
:func:`subscribe` reads a channel as typed events, and
:mod:`~synapse_gql.realtime.stream_log` keeps the deltas of streamed answers for replay.
"""

from synapse_gql.realtime.after_commit import AfterCommitPublisher, PendingEvents, publisher_for
from synapse_gql.realtime.backends import BroadcasterClosedError
from synapse_gql.realtime.broadcaster import Broadcaster, create_broadcaster
from synapse_gql.realtime.channels import (
    control_channel,
    conversation_channel,
    message_channel,
    workspace_metrics_channel,
)
from synapse_gql.realtime.stream_log import (
    Delta,
    MemoryStreamLog,
    RedisStreamLog,
    StreamLog,
    create_stream_log,
    utf16_length,
    utf16_tail,
)
from synapse_gql.realtime.subscription import SubscriberOverflowError, Subscription, subscribe

__all__ = [
    "AfterCommitPublisher",
    "Broadcaster",
    "BroadcasterClosedError",
    "Delta",
    "MemoryStreamLog",
    "PendingEvents",
    "RedisStreamLog",
    "StreamLog",
    "SubscriberOverflowError",
    "Subscription",
    "control_channel",
    "conversation_channel",
    "create_broadcaster",
    "create_stream_log",
    "message_channel",
    "publisher_for",
    "subscribe",
    "utf16_length",
    "utf16_tail",
    "workspace_metrics_channel",
]
