"""The payloads published on realtime channels by the send flow, as JSON.

* ``delta``: a piece of an answer (``messageId``, ``sequence``, ``offset``, ``text``);
* ``added``: a message was committed to a conversation (``messageId``);
* ``finished``: an answer ended and its row is committed (``messageId``, ``sequence`` of its
  last delta, ``status``);
* ``stop``: on the control channel, a request to stop a generation wherever it runs.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from synapse_gql.realtime import Delta

DELTA = "delta"
ADDED = "added"
FINISHED = "finished"
STOP = "stop"


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """A parsed payload; ``delta`` is set for deltas, ``sequence`` for finished answers."""

    kind: str
    message_id: uuid.UUID
    delta: Delta | None = None
    sequence: int = 0
    status: str | None = None


def _dump(kind: str, message_id: uuid.UUID, **fields: Any) -> str:
    return json.dumps({"type": kind, "messageId": str(message_id), **fields}, ensure_ascii=False)


def delta_event(message_id: uuid.UUID, delta: Delta) -> str:
    """A delta of ``message_id``'s answer."""
    return _dump(DELTA, message_id, sequence=delta.sequence, offset=delta.offset, text=delta.text)


def added_event(message_id: uuid.UUID) -> str:
    """``message_id`` was added to its conversation."""
    return _dump(ADDED, message_id)


def finished_event(message_id: uuid.UUID, sequence: int, status: str) -> str:
    """``message_id``'s answer ended with ``status`` after ``sequence`` deltas."""
    return _dump(FINISHED, message_id, sequence=sequence, status=status)


def stop_event(message_id: uuid.UUID) -> str:
    """Ask whichever process runs ``message_id``'s generation to stop it."""
    return _dump(STOP, message_id)


def parse(payload: str) -> ChannelEvent | None:
    """The event in ``payload``; None for anything malformed or unknown."""
    try:
        data = json.loads(payload)
        kind = data["type"]
        message_id = uuid.UUID(data["messageId"])
        if kind == DELTA:
            delta = Delta(int(data["sequence"]), int(data["offset"]), str(data["text"]))
            return ChannelEvent(kind, message_id, delta=delta, sequence=delta.sequence)
        if kind == FINISHED:
            return ChannelEvent(
                kind, message_id, sequence=int(data["sequence"]), status=str(data["status"])
            )
        if kind in (ADDED, STOP):
            return ChannelEvent(kind, message_id)
    except (ValueError, KeyError, TypeError):
        return None
    return None
