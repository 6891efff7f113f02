"""Every payload published on a realtime channel, as one typed schema.

One discriminated union (on ``type``) covers the lot; :func:`encode` writes an event as
compact JSON (orjson) and :func:`decode` reads any payload back into its event type, or
None when it is malformed or of an unknown type (a newer process may publish more kinds).

* :class:`DeltaEvent`: a piece of an answer (published at once, through the delta log);
* :class:`AddedEvent`: a message was committed to a conversation;
* :class:`FinishedEvent`: an answer ended and its row is committed (``sequence`` of its last
  delta, ``status``);
* :class:`StopEvent`: on the control channel, a request to stop a generation wherever it runs;
* :class:`UsageEvent`: a usage log was committed for a workspace;
* :class:`AccessChangedEvent`: a user's rights changed; their subscriptions re-check;
* :class:`AlertChangedEvent`: an alert of a workspace was raised or changed.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

if TYPE_CHECKING:
    from synapse_gql.realtime.stream_log import Delta


class _Event(BaseModel):
    """Frozen, camelCase on the wire."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class DeltaEvent(_Event):
    """A piece of ``message_id``'s answer."""

    type: Literal["delta"] = "delta"
    message_id: uuid.UUID
    sequence: int
    offset: int
    text: str

    @classmethod
    def of(cls, message_id: uuid.UUID, delta: Delta) -> DeltaEvent:
        """The event carrying ``delta``."""
        return cls(
            message_id=message_id, sequence=delta.sequence, offset=delta.offset, text=delta.text
        )

    @property
    def delta(self) -> Delta:
        """The delta it carries."""
        # Imported here: the delta log's module imports the broadcaster, which reads events.
        from synapse_gql.realtime.stream_log import Delta

        return Delta(self.sequence, self.offset, self.text)


class AddedEvent(_Event):
    """``message_id`` was added to its conversation."""

    type: Literal["added"] = "added"
    message_id: uuid.UUID


class FinishedEvent(_Event):
    """``message_id``'s answer ended with ``status`` after ``sequence`` deltas."""

    type: Literal["finished"] = "finished"
    message_id: uuid.UUID
    sequence: int
    status: str


class StopEvent(_Event):
    """Ask whichever process runs ``message_id``'s generation to stop it."""

    type: Literal["stop"] = "stop"
    message_id: uuid.UUID


class UsageEvent(_Event):
    """``usage_log_id`` was committed (on its workspace's metrics channel)."""

    type: Literal["usage"] = "usage"
    usage_log_id: uuid.UUID


class AccessChangedEvent(_Event):
    """The user's rights changed (``reason`` is for logs and tests, not for checks)."""

    type: Literal["access-changed"] = "access-changed"
    reason: str


class AlertChangedEvent(_Event):
    """``alert_id`` was raised or changed (on its workspace's alerts channel)."""

    type: Literal["alert"] = "alert"
    alert_id: uuid.UUID


AnyEvent = (
    DeltaEvent
    | AddedEvent
    | FinishedEvent
    | StopEvent
    | UsageEvent
    | AccessChangedEvent
    | AlertChangedEvent
)
RealtimeEvent = Annotated[AnyEvent, Field(discriminator="type")]
_EVENTS: TypeAdapter[AnyEvent] = TypeAdapter(RealtimeEvent)


def encode(event: AnyEvent) -> str:
    """``event`` as compact JSON."""
    return orjson.dumps(event.model_dump(mode="json", by_alias=True)).decode()


def encode_delta(message_id: str, delta: Delta) -> str:
    """``encode(DeltaEvent.of(message_id, delta))``, without building the model: the same
    JSON, for the path every token takes."""
    return orjson.dumps(
        {
            "type": "delta",
            "messageId": message_id,
            "sequence": delta.sequence,
            "offset": delta.offset,
            "text": delta.text,
        }
    ).decode()


def decode_delta(payload: str | bytes) -> tuple[str, Delta] | None:
    """A delta event's message id (as written) and delta, read without building the
    model, for the path every token takes; None for anything else (which :func:`decode`
    reads)."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("type") != "delta":
        return None
    message_id, sequence, offset, text = (
        data.get("messageId"),
        data.get("sequence"),
        data.get("offset"),
        data.get("text"),
    )
    if not isinstance(message_id, str) or not isinstance(text, str):
        return None
    if type(sequence) is not int or type(offset) is not int:
        return None
    from synapse_gql.realtime.stream_log import Delta

    return message_id, Delta(sequence, offset, text)


def decode(payload: str | bytes) -> AnyEvent | None:
    """The event in ``payload``; None for anything malformed or of an unknown type."""
    try:
        return _EVENTS.validate_json(payload)
    except ValidationError:
        return None
