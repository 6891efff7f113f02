"""Subscriptions over plain HTTP, as Apollo Client's HttpLink (multipart) and graphql-sse
(``text/event-stream``) send them, against a real server: every delta in order then the
end, the viewer's ``usage: null``, 401 without credentials, removal and revocation ending
the stream, the query limits, and a dropped client letting go of its subscription."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from synapse_gql.realtime import conversation_channel, message_channel
from tests.access_helpers import make_team, remove
from tests.chat_helpers import Served, send, served, wait_for
from tests.gql_client import operation_documents
from tests.helpers import db_id
from tests.test_chat_stream import contiguous_text, started_turn, wait_logged
from tests.test_subscription_access import subscribers

MULTIPART = "multipart/mixed;subscriptionSpec=1.0, application/json"
SSE = "text/event-stream"
DELIMITER = "\r\n--graphql"
ENDS = ("MessageCompleted", "MessageFailed", "SubscriptionRefused")


@dataclass
class Stream:
    """What one HTTP subscription received: GraphQL results, heartbeats, a clean end."""

    results: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: int = 0
    completed: bool = False

    def field(self, name: str) -> list[dict[str, Any]]:
        return [result["data"][name] for result in self.results]


async def _multipart(response: httpx.Response, into: Stream) -> None:
    """Parts of Apollo's multipart subscription protocol: ``{}`` is a heartbeat, a
    ``payload`` a result, ``--graphql--`` the end."""
    buffer = ""
    async for text in response.aiter_text():
        buffer += text
        while (cut := buffer.find(DELIMITER)) != -1:
            part, buffer = buffer[:cut], buffer[cut + len(DELIMITER) :]
            body = part.partition("\r\n\r\n")[2].strip()
            if body:
                message = json.loads(body)
                if message == {}:
                    into.heartbeats += 1
                else:
                    into.results.append(message["payload"])
        if buffer.startswith("--"):
            into.completed = True
            return


async def _event_stream(response: httpx.Response, into: Stream) -> None:
    """Events of graphql-sse's distinct connections mode: ``next`` then ``complete``."""
    buffer = ""
    async for text in response.aiter_text():
        buffer += text
        while "\r\n\r\n" in buffer:
            event, buffer = buffer.split("\r\n\r\n", 1)
            if event.startswith(":"):
                into.heartbeats += 1
                continue
            fields = dict(line.split(": ", 1) for line in event.split("\r\n"))
            if fields["event"] == "complete":
                into.completed = True
                return
            into.results.append(json.loads(fields["data"]))


def _request(name: str, token: str | None, accept: str, variables: dict) -> dict[str, Any]:
    """The request of operation ``name`` of ``schema/`` (or of the document ``name``)."""
    headers = {"Accept": accept}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    query = operation_documents().get(name, name)
    body = {"query": query, "variables": variables}
    return {"json": body, "headers": headers}


@asynccontextmanager
async def subscribed(
    server: Served, accept: str, name: str, token: str, **variables: Any
) -> AsyncIterator[tuple[Stream, asyncio.Task[None]]]:
    """An HTTP subscription read in the background; the task ends with the stream."""
    stream = Stream()
    request = _request(name, token, accept, variables)
    async with server.gql.http.stream("POST", "/graphql", **request) as response:
        assert response.status_code == 200, await response.aread()
        kind = response.headers["content-type"].split(";")[0]
        assert kind == ("multipart/mixed" if accept == MULTIPART else SSE)
        reader = _multipart if accept == MULTIPART else _event_stream
        task = asyncio.create_task(reader(response, stream))
        try:
            yield stream, task
        finally:
            task.cancel()


async def read_all(server: Served, accept: str, name: str, token: str, **variables: Any) -> Stream:
    async with subscribed(server, accept, name, token, **variables) as (stream, task):
        await asyncio.wait_for(task, 30)
    return stream


@pytest.mark.parametrize("accept", [MULTIPART, SSE])
async def test_message_stream_sends_every_delta_in_order_then_the_end(
    settings, make_user, make_workspace, accept
) -> None:
    """Given an answer streaming, when subscribing over HTTP, then every delta arrives once,
    numbered 1..n with offsets that add up, then MessageCompleted with the full text, then
    the stream's end."""
    async with served(settings, mock_tokens_per_second=40) as server:
        turn = await started_turn(server, make_user, make_workspace, "Stream me over HTTP")
        answer = turn["assistantMessage"]
        await wait_logged(server, answer, 2)
        stream = await read_all(
            server, accept, "MessageStream", turn["owner"].token, messageId=answer["id"]
        )
    events = stream.field("messageStream")
    deltas, end = events[:-1], events[-1]
    text = contiguous_text(deltas)
    assert len(deltas) > 2
    assert end["__typename"] == "MessageCompleted", end
    assert end["message"]["content"] == text
    assert end["sequence"] == deltas[-1]["sequence"]
    assert end["usage"]["outputTokens"] > 0
    assert stream.completed


@pytest.mark.parametrize("accept", [MULTIPART, SSE])
async def test_conversation_events_reach_a_viewer_without_usage(
    settings, make_user, make_workspace, add_member, accept
) -> None:
    """Given a viewer subscribed to a conversation over HTTP, when the owner asks a question,
    then both messages are added, the deltas arrive in order, and the end carries
    ``usage: null`` (usage is for members and above, as over WebSocket)."""
    async with served(settings, mock_tokens_per_second=0) as server:
        team = await make_team(server, make_user, make_workspace, add_member)
        conv_id = team.conversation["id"]
        async with subscribed(
            server, accept, "ConversationEvents", team.viewer.token, conversationId=conv_id
        ) as (stream, _):
            await subscribers(server, conversation_channel(db_id(conv_id)), 1)
            await send(server.gql, team.owner, team.conversation, "Who is watching?")
            await wait_for(lambda: _ended(stream, "conversationEvents"))
    events = stream.field("conversationEvents")
    kinds = [e["__typename"] for e in events]
    assert kinds[:2] == ["MessageAdded", "MessageAdded"], kinds
    contiguous_text(events[2:-1])
    assert events[-1]["__typename"] == "MessageCompleted"
    assert events[-1]["usage"] is None


async def _ended(stream: Stream, name: str) -> bool:
    return any(e["__typename"] in ENDS for e in stream.field(name))


@pytest.mark.parametrize("accept", [MULTIPART, SSE])
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"])
async def test_without_valid_credentials_the_answer_is_401(
    settings, make_user, make_workspace, accept, authorization
) -> None:
    """Given no token or an invalid one, when subscribing over HTTP, then 401 and no stream."""
    async with served(settings) as server:
        turn = await started_turn(server, make_user, make_workspace, "Private")
        request = _request("MessageStream", None, accept, {"messageId": turn["userMessage"]["id"]})
        if authorization:
            request["headers"]["Authorization"] = authorization
        response = await server.gql.http.post("/graphql", **request)
        channel = message_channel(db_id(turn["assistantMessage"]["id"]))
        listening = server.app.state.synapse.realtime.subscriber_count(channel)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert listening == 0


async def test_removal_ends_the_http_stream(
    settings, make_user, make_workspace, add_member
) -> None:
    """Given a member subscribed over HTTP, when removed from the workspace, then the last
    event is SubscriptionRefused NOT_FOUND and the stream ends."""
    async with served(settings, mock_tokens_per_second=0) as server:
        team = await make_team(server, make_user, make_workspace, add_member)
        conv_id = team.conversation["id"]
        async with subscribed(
            server, SSE, "ConversationEvents", team.member.token, conversationId=conv_id
        ) as (stream, reader):
            await subscribers(server, conversation_channel(db_id(conv_id)), 1)
            await remove(server, team.owner, team.workspace, team.member)
            await asyncio.wait_for(reader, 30)
    [refusal] = stream.field("conversationEvents")
    assert (refusal["__typename"], refusal["code"]) == ("SubscriptionRefused", "NOT_FOUND")
    assert stream.completed


async def test_revoking_the_api_token_ends_the_http_stream(
    settings, make_user, make_workspace, add_member
) -> None:
    """Given a multipart subscription opened with an API token, when the token is revoked,
    then the last part is an UNAUTHENTICATED error, the stream closes, and the owner's next
    answer does not reach it."""
    async with served(settings, mock_tokens_per_second=0) as server:
        team = await make_team(server, make_user, make_workspace, add_member)
        created = await server.gql.op("CreateApiToken", team.member.token, input={"name": "bot"})
        api = created["createApiToken"]
        conv_id = team.conversation["id"]
        channel = conversation_channel(db_id(conv_id))
        async with subscribed(
            server, MULTIPART, "ConversationEvents", api["token"], conversationId=conv_id
        ) as (stream, reader):
            await subscribers(server, channel, 1)
            await server.gql.op("RevokeApiToken", team.member.token, id=api["apiToken"]["id"])
            await asyncio.wait_for(reader, 30)
        await wait_for(lambda: _no_subscribers(server, channel))
        await send(server.gql, team.owner, team.conversation, "After the revocation")
    [ending] = stream.results
    assert ending["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "revoked" in ending["errors"][0]["message"]
    assert stream.completed


async def _no_subscribers(server: Served, channel: str) -> bool:
    return server.app.state.synapse.realtime.subscriber_count(channel) == 0


async def test_depth_limit_applies_over_http(settings, make_user, make_workspace) -> None:
    """Given a subscription nested deeper than the depth limit, when subscribing over
    multipart, then a single error result QUERY_TOO_DEEP and nothing is subscribed."""
    async with served(settings) as server:
        turn = await started_turn(server, make_user, make_workspace, "Deep")
        answer_id = turn["assistantMessage"]["id"]
        levels = settings.max_query_depth
        deep = "parent { " * levels + "id" + " }" * levels
        document = (
            "subscription ($messageId: ID!) { messageStream(messageId: $messageId) {"
            f" ... on MessageCompleted {{ message {{ {deep} }} }} }} }}"
        )
        stream = await read_all(
            server, MULTIPART, document, turn["owner"].token, messageId=answer_id
        )
        listening = server.app.state.synapse.realtime.subscriber_count(
            message_channel(db_id(answer_id))
        )
    [result] = stream.results
    assert result["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"
    assert "data" not in result or result["data"] is None
    assert listening == 0


async def test_a_dropped_client_lets_go_of_its_subscription(
    settings, make_user, make_workspace
) -> None:
    """Given a multipart subscription to a slow answer, when the client disconnects after
    the first delta, then the server unsubscribes from the answer's channel."""
    async with served(settings, mock_tokens_per_second=5) as server:
        turn = await started_turn(server, make_user, make_workspace, "A slow long answer")
        answer = turn["assistantMessage"]
        channel = message_channel(db_id(answer["id"]))
        async with subscribed(
            server, MULTIPART, "MessageStream", turn["owner"].token, messageId=answer["id"]
        ) as (stream, _):
            await wait_for(lambda: _has_results(stream))
            assert server.app.state.synapse.realtime.subscriber_count(channel) == 1
        await wait_for(lambda: _no_subscribers(server, channel))
    assert stream.field("messageStream")[0]["__typename"] == "MessageDelta"


async def _has_results(stream: Stream) -> bool:
    return bool(stream.results)
