"""Realtime layer: pub/sub channels shared by the token-streaming subscriptions.

:func:`create_broadcaster` gives a :class:`Broadcaster` on Redis (``redis://``,
``rediss://``, ``unix://``) or in process (``memory://``) when no Redis is configured;
:mod:`~synapse_gql.realtime.channels` names the channels and
:class:`AfterCommitPublisher` publishes only what a committed transaction wrote, and
:mod:`~synapse_gql.realtime.stream_log` keeps the deltas of streamed answers for replay.
"""

from synapse_gql.realtime.after_commit import AfterCommitPublisher, PendingEvents
from synapse_gql.realtime.backends import BroadcasterClosedError
from synapse_gql.realtime.broadcaster import Broadcaster, create_broadcaster, publish_quietly
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
)
from synapse_gql.realtime.subscription import SubscriberOverflowError, Subscription

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
    "publish_quietly",
    "workspace_metrics_channel",
]
