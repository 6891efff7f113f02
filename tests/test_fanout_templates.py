"""A delta's payload written from the document's template is byte for byte what executing
the event gives; selections the template does not model are left to execution."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from graphql import parse

from synapse_gql.chat.streams import AnswerDelta
from synapse_gql.chat.types import MessageDelta
from synapse_gql.realtime import Delta
from synapse_gql.realtime.fanout.groups import EventGroup
from synapse_gql.realtime.fanout.payloads import build_executor, encode_result, execute_event
from synapse_gql.realtime.fanout.subscriber import Subscriber
from synapse_gql.realtime.fanout.templates import delta_template
from synapse_gql.schema import schema
from tests.gql_client import operation_documents

MESSAGE_ID = uuid.UUID("7b0f5a52-8a8d-4f55-9a47-54e1c2d8a0f1")
DELTAS = [Delta(1, 0, "Hello"), Delta(2, 5, ' "wörld"\n\t'), Delta(3, 14, "🙂 \\ </script>")]

MODELED = {
    "aliases, repeats, typename last": """
        subscription S($m: ID!) { stream: messageStream(messageId: $m) {
          ... on MessageDelta { t: text seq: sequence text sequence }
          ... on MessageCompleted { sequence }
          __typename } }""",
    "fragment spreads, a fragment on the union, spread twice": """
        fragment D on MessageDelta { offset messageId }
        fragment U on MessageStreamEvent { __typename ... on MessageDelta { ...D text } }
        subscription S($m: ID!) { messageStream(messageId: $m) { ...U ...U ...D } }""",
    "no field for a delta": """
        subscription S($m: ID!) { messageStream(messageId: $m) {
          ... on SubscriptionRefused { code } } }""",
}
LEFT_TO_EXECUTION = {
    "a directive": """
        subscription S($m: ID!, $x: Boolean!) { messageStream(messageId: $m) {
          ... on MessageDelta { text @include(if: $x) } } }""",
}


def executor_of(text: str, variables: dict) -> object:
    return build_executor(schema, parse(text), None, variables, None)


async def executed(executor: object, delta: Delta) -> str:
    event = MessageDelta.from_delta(MESSAGE_ID, delta)
    return encode_result(await execute_event(executor, event))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text", [*MODELED.values(), operation_documents()["MessageStream"]], ids=[*MODELED, "client"]
)
async def test_a_template_writes_what_execution_gives(text: str) -> None:
    executor = executor_of(text, {"m": "x", "messageId": "x"})
    template = delta_template(executor)  # type: ignore[arg-type]
    assert template is not None
    for delta in DELTAS:
        assert template.render(MESSAGE_ID, delta) == await executed(executor, delta)


def test_what_a_template_cannot_express_is_executed() -> None:
    for text in LEFT_TO_EXECUTION.values():
        assert delta_template(executor_of(text, {"m": "x", "x": True})) is None  # type: ignore[arg-type]


class Frames:
    """A socket writer that keeps the frames it is handed."""

    def __init__(self) -> None:
        self.frames: list[str] = []

    def send(self, frame: str) -> None:
        self.frames.append(frame)


async def test_a_templated_group_sends_deltas_as_soon_as_the_feed_has_them() -> None:
    executor = executor_of(MODELED["aliases, repeats, typename last"], {"m": "x"})
    feed = SimpleNamespace(items=[], ended=False, hub=SimpleNamespace(rendered=0, executions=0))
    group = EventGroup(feed, executor)  # type: ignore[arg-type]
    writers = [Frames(), Frames()]
    for writer, after in zip(writers, (0, 1), strict=True):
        subscriber = Subscriber(writer, "1", "next", after, None, executor, check=None)  # type: ignore[arg-type]
        group.subscribers.append(subscriber)

    feed.items += [AnswerDelta(MESSAGE_ID, delta) for delta in DELTAS[:2]]
    assert group.deliver_now()  # no await: the frames are queued already
    feed.items.append(AnswerDelta(MESSAGE_ID, DELTAS[2]))
    assert group.deliver_now()
    # Each delta rendered once for the group, each subscriber sent those past its ``after``.
    assert feed.hub.rendered == 3
    assert [len(writer.frames) for writer in writers] == [3, 2]
    assert writers[0].frames[1:] == writers[1].frames

    feed.items.append(object())  # not a delta (an end): left to ``deliver``
    assert not group.deliver_now()
    assert [subscriber.position for subscriber in group.subscribers] == [3, 3]
