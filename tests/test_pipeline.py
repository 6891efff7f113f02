"""The call pipeline's shared steps, the typed realtime events with their one publisher and
subscribe helper, and providers declared by registration."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.app import create_app
from synapse_gql.config import Settings
from synapse_gql.db import Database
from synapse_gql.generation.keys import global_key
from synapse_gql.llm import DEFAULT_BASE_URLS, Timeouts, build_providers, key_variable, registration
from synapse_gql.llm.openai_provider import OpenAICompatibleProvider
from synapse_gql.llm.registration import ProviderSpec, register_provider, settings_key
from synapse_gql.models import UsageLog
from synapse_gql.realtime import Broadcaster, publisher_for, subscribe
from synapse_gql.realtime.events import (
    AccessChangedEvent,
    AddedEvent,
    AlertChangedEvent,
    DeltaEvent,
    FinishedEvent,
    StopEvent,
    UsageEvent,
    decode,
    encode,
)
from synapse_gql.realtime.stream_log import Delta
from tests.generation_helpers import generate, llm_global_id, make_team, running, usage_count
from tests.gql_client import GraphQLClient
from tests.realtime_helpers import fresh_channel, receive

MESSAGE_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
EVENTS = [
    DeltaEvent.of(MESSAGE_ID, Delta(3, 10, "naïve 😀")),
    AddedEvent(message_id=MESSAGE_ID),
    FinishedEvent(message_id=MESSAGE_ID, sequence=3, status="completed"),
    StopEvent(message_id=MESSAGE_ID),
    UsageEvent(usage_log_id=MESSAGE_ID),
    AccessChangedEvent(reason="member removed"),
    AlertChangedEvent(alert_id=MESSAGE_ID),
]


# --- events ---------------------------------------------------------------------------------


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.type)
def test_every_event_reads_back_as_itself(event: Any) -> None:
    assert decode(encode(event)) == event
    assert decode(encode(event).encode()) == event


def test_the_wire_shape_is_camel_case_json() -> None:
    """Given a delta, when encoded, then the payload is the documented camelCase object."""
    payload = orjson.loads(encode(EVENTS[0]))

    assert payload == {
        "type": "delta",
        "messageId": str(MESSAGE_ID),
        "sequence": 3,
        "offset": 10,
        "text": "naïve 😀",
    }
    assert DeltaEvent.model_validate(payload).delta == Delta(3, 10, "naïve 😀")


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[]",
        '{"type": "teleport", "messageId": "00000000-0000-4000-8000-000000000001"}',
        '{"type": "delta", "messageId": "not-a-uuid", "sequence": 1, "offset": 0, "text": ""}',
        '{"type": "finished", "messageId": "00000000-0000-4000-8000-000000000001"}',
        '{"messageId": "00000000-0000-4000-8000-000000000001"}',
    ],
)
def test_malformed_or_unknown_payloads_read_as_nothing(payload: str) -> None:
    assert decode(payload) is None


# --- one publisher, one subscribe helper ----------------------------------------------------


@pytest.fixture
async def memory_broadcaster() -> AsyncIterator[Broadcaster]:
    broadcaster = Broadcaster("memory://")
    await broadcaster.connect()
    try:
        yield broadcaster
    finally:
        await broadcaster.disconnect()


async def test_subscribe_yields_only_the_asked_types(memory_broadcaster: Broadcaster) -> None:
    """Given a channel carrying a delta, garbage, an added and a finished event, when read
    for deltas and finished answers, then exactly those two arrive, typed, in order."""
    channel = fresh_channel()
    kinds = (DeltaEvent, FinishedEvent)
    async with subscribe(memory_broadcaster, channel, kinds) as events:
        for payload in (encode(EVENTS[0]), "garbage", encode(EVENTS[1]), encode(EVENTS[2])):
            await memory_broadcaster.publish(channel, payload)
        received = [await anext(events), await anext(events)]

    assert received == [EVENTS[0], EVENTS[2]]


async def test_the_publisher_sends_typed_events_after_commit_only(
    memory_broadcaster: Broadcaster, database_url: str
) -> None:
    """Given typed events queued on two transactions, when one commits and one rolls back,
    then ``sent`` returns once the committed one is out and the other never goes."""
    db = Database(database_url)
    publisher = publisher_for(memory_broadcaster)
    assert publisher_for(memory_broadcaster) is publisher
    channel = fresh_channel()
    try:
        async with memory_broadcaster.subscribe(channel) as subscription:
            with pytest.raises(RuntimeError, match="abort"):
                await _queue_then_fail(db, publisher, channel)
            async with db.transaction() as session:
                publisher.publish(session, channel, EVENTS[2])
            await publisher.sent(session)
            await publisher.announce([(channel, EVENTS[4])])
            await memory_broadcaster.publish(channel, "marker")
            received = await receive(subscription, 3)
            assert [decode(p) for p in received[:2]] == [EVENTS[2], EVENTS[4]]
            assert received[2] == "marker"
            assert publisher.in_flight == 0
    finally:
        await db.dispose()


async def _queue_then_fail(db: Database, publisher: Any, channel: str) -> None:
    async with db.transaction() as session:
        publisher.publish(session, channel, EVENTS[1])
        raise RuntimeError("abort")


# --- providers by registration ------------------------------------------------------------


def test_registrations_declare_keys_settings_and_urls() -> None:
    assert key_variable("openai") == "OPENAI_API_KEY"
    assert settings_key("anthropic") == "anthropic_api_key"
    assert (key_variable("xai"), settings_key("xai")) == ("XAI_API_KEY", "xai_api_key")
    assert DEFAULT_BASE_URLS["deepseek"] == "https://api.deepseek.com/v1"
    # A host given only by settings: a key variable by convention, no server-wide key.
    assert (key_variable("my-vllm"), settings_key("my-vllm")) == ("MY_VLLM_API_KEY", None)


def test_a_second_registration_of_a_name_is_refused() -> None:
    spec = registration.registered()["openai"]
    with pytest.raises(ValueError, match="registered twice"):
        register_provider(spec)


def test_a_new_provider_is_one_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a registration for a new host, then the server builds it at its default URL,
    names its key variable and reads its server-wide key from the declared setting."""
    built: list[tuple[str | None, Timeouts]] = []

    def build(base_url: str | None, timeouts: Timeouts) -> OpenAICompatibleProvider:
        built.append((base_url, timeouts))
        return OpenAICompatibleProvider("acme", base_url, timeouts)

    spec = ProviderSpec("acme", build, "ACME_TOKEN", "xai_api_key", "https://acme.test/v1")
    monkeypatch.setitem(registration._REGISTRY, "acme", spec)
    timeouts = Timeouts()

    providers = build_providers({}, timeouts, None)

    assert built == [("https://acme.test/v1", timeouts)]
    assert providers["acme"].base_url == "https://acme.test/v1"  # type: ignore[attr-defined]
    assert key_variable("acme") == "ACME_TOKEN"
    settings = Settings(xai_api_key="sk-acme")
    assert global_key(settings, "acme") == "sk-acme"


def test_an_empty_url_turns_a_default_host_off() -> None:
    providers = build_providers({"google": ""}, Timeouts(), None)

    assert "google" not in providers
    assert {"openai", "anthropic", "xai"} <= set(providers)


# --- the metered hook point ---------------------------------------------------------------


async def test_metered_hooks_see_each_metered_call_in_its_transaction(
    settings: Settings, make_user, make_workspace, db_engine
) -> None:
    """Given a hook on the app state, when a member generates twice, then the hook ran once
    per call with that call's usage row, inside the metering transaction."""
    seen: list[tuple[bool, list[uuid.UUID]]] = []

    async def hook(session: AsyncSession, logs: Sequence[UsageLog]) -> None:
        seen.append((session.in_transaction(), [log.id for log in logs]))

    team = await make_team(make_user, make_workspace)
    mock = await llm_global_id(db_engine, "synapse-dev")
    async with running(create_app(settings)) as app:
        app.state.synapse.metered_hooks.append(hook)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            client = GraphQLClient(http)
            first = await generate(client, team.owner.token, team.workspace, mock)
            second = await generate(client, team.owner.token, team.workspace, mock)

    assert (first["__typename"], second["__typename"]) == ("Generation", "Generation")
    assert await usage_count(db_engine) == 2
    assert [in_transaction for in_transaction, _ in seen] == [True, True]
    assert [len(ids) for _, ids in seen] == [1, 1]
    assert seen[0][1] != seen[1][1]
