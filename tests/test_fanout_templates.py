"""A delta's payload written from the document's template is byte for byte what executing
the event gives; selections the template does not model are left to execution."""

from __future__ import annotations

import uuid

import pytest
from graphql import parse

from synapse_gql.chat.types import MessageDelta
from synapse_gql.realtime import Delta
from synapse_gql.realtime.fanout.payloads import build_executor, encode_result, execute_event
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
