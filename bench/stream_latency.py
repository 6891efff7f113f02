"""How much latency the server adds to a streamed answer, to its first token and to each
token, beside a direct SDK call to the same provider.

    python -m bench.stream_latency [--runs 20] [--tokens 200] [--token-interval-ms 5]
                                   [--redis URL] [--subscribe message|conversation]

Three processes, so that what is measured is the server's work and not the client's or the
provider's CPU (each has its own interpreter and event loop):

* a loopback OpenAI-compatible provider (``bench.latency_provider``, raw asyncio HTTP/1.1)
  that answers every streamed chat completion with ``--tokens`` content chunks, the first
  at once and then one every ``--token-interval-ms`` (on an absolute schedule), stamping
  when it read each request and when each chunk was handed to the socket;
* the app (``bench.latency_server``: ``create_app`` and ``gc.freeze()`` as
  ``app_from_env`` does, served by uvicorn), its ``openai`` provider pointed at the fake,
  realtime in-process or over Redis (``--redis``); ``Generation.__call__``,
  ``Generation._prompt``, ``DeltaPump.push`` and ``DeltaOutbox._send`` (``_send_now`` for
  an in-memory log) are wrapped there (the source is untouched) to stamp the stages of the
  token path;
* this process, the client: HTTP GraphQL for the mutations, one graphql-transport-ws
  connection whose reader stamps every message when ``websockets`` hands it over, and the
  baseline, the ``openai`` SDK streaming from the same provider.

``time.perf_counter()`` is ``CLOCK_MONOTONIC`` on Linux, one clock for every process of the
machine, so stamps of different processes compare.

Each round (in random order): a direct SDK call, and ``sendMessage`` with an OpenAI catalog
model in a new conversation of a workspace with a hard-stop budget (each call reserves its
worst case first), then (``--subscribe message``, the default) ``messageStream`` of the
answer once the mutation has returned, or (``--subscribe conversation``)
``conversationEvents`` opened before sending. See ``bench/README.md`` for each figure.

The database: ``SYNAPSE_BENCH_DATABASE_URL`` or ``DATABASE_URL`` (migrated and seeded, which
is idempotent; the bench's user, workspace and conversations are left there), else an embedded
PostgreSQL in a temporary directory, removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import itertools
import json
import logging
import math
import os
import platform
import random
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PERF = time.perf_counter
CALLS_PATH = "/bench/calls/"
PROMPT = "Count, please."


# --- the loopback provider --------------------------------------------------------------------


def token_text(index: int) -> str:
    """The text of content chunk ``index`` (ASCII: characters are code points)."""
    return f"t{index}" if index == 0 else f" t{index}"


@dataclass
class ProviderCall:
    """One streamed completion: when its request was read, when each chunk was written."""

    received: float
    writes: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


def _sse(model: str, choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "choices": choices,
        "usage": usage,
    }
    data = f"data: {json.dumps(chunk)}\n\n".encode()
    return b"%x\r\n%s\r\n" % (len(data), data)


def _delta(content: dict[str, str], finish: str | None = None) -> list[dict[str, Any]]:
    return [{"index": 0, "delta": content, "finish_reason": finish}]


class LoopbackOpenAI:
    """``POST /v1/chat/completions`` with ``stream: true``, over keep-alive HTTP/1.1."""

    def __init__(self, tokens: int, interval: float) -> None:
        self.tokens = tokens
        self.interval = interval
        self.calls: list[ProviderCall] = []
        self.base_url = ""
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> LoopbackOpenAI:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line, *lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                received = PERF()
                method, path, _ = request_line.split(" ", 2)
                if method == "GET" and path.startswith(CALLS_PATH):
                    self._calls(writer, int(path[len(CALLS_PATH) :] or 0))
                    continue
                request = json.loads(body or b"{}")
                if method != "POST" or path != "/v1/chat/completions" or not request.get("stream"):
                    self._refuse(writer, f"the bench provider streams only ({method} {path})")
                else:
                    await self._stream(writer, request, ProviderCall(received))
                await writer.drain()
        except ConnectionError:
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    def _calls(self, writer: asyncio.StreamWriter, after: int) -> None:
        """The stamps of the calls after the first ``after``, for a client in another
        process (``GET /bench/calls/<after>``)."""
        calls = [
            {"received": c.received, "writes": c.writes, "texts": c.texts}
            for c in self.calls[after:]
        ]
        body = json.dumps(calls).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )

    @staticmethod
    def _refuse(writer: asyncio.StreamWriter, message: str) -> None:
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
        body = json.dumps({"error": error}).encode()
        writer.write(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )

    async def _stream(
        self, writer: asyncio.StreamWriter, request: dict[str, Any], call: ProviderCall
    ) -> None:
        self.calls.append(call)
        model = str(request.get("model", "bench"))
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
            + _sse(model, _delta({"role": "assistant", "content": ""}))
        )
        start = PERF()
        for index in range(self.tokens):
            delay = start + index * self.interval - PERF()
            if delay > 0:
                await asyncio.sleep(delay)
            text = token_text(index)
            writer.write(_sse(model, _delta({"content": text})))
            call.writes.append(PERF())
            call.texts.append(text)
            await writer.drain()
        usage = {
            "prompt_tokens": 20,
            "completion_tokens": self.tokens,
            "total_tokens": 20 + self.tokens,
        }
        writer.write(
            _sse(model, _delta({}, "stop"))
            + _sse(model, [], usage)
            + b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"
        )


# --- server-side stamps (a wrapper around the pump, in this process only) -------------------


@dataclass
class ServerStamps:
    """When the generation started and had its prompt, when the server got each token from
    the SDK, and when it sent each delta."""

    started: float = math.nan  # the generation task began (Generation.__call__)
    prompted: float = math.nan  # the prompt was built (the last Generation._prompt returned)
    pushes: list[float] = field(default_factory=list)
    # (end offset, send started, send returned): the log append and publication of a delta.
    sends: list[tuple[int, float, float]] = field(default_factory=list)


STAMPS: dict[uuid.UUID, ServerStamps] = {}


def instrument_server() -> None:
    """Wrap ``Generation.__call__``, ``Generation._prompt``, ``DeltaPump.push`` and
    ``DeltaOutbox._send`` / ``_send_now`` (a batch of deltas, one per answer) to stamp them."""
    from synapse_gql.chat.pump import DeltaOutbox, DeltaPump
    from synapse_gql.chat.runner import Generation

    call, prompt = Generation.__call__, Generation._prompt
    push, send_batch, send_now = DeltaPump.push, DeltaOutbox._send, DeltaOutbox._send_now

    # The wrappers pass any arguments through: they only stamp, and survive signature changes.
    async def stamped_call(self: Generation, *args: Any, **kwargs: Any) -> Any:
        STAMPS.setdefault(self.job.message_id, ServerStamps()).started = PERF()
        return await call(self, *args, **kwargs)

    async def stamped_prompt(self: Generation, *args: Any, **kwargs: Any) -> Any:
        messages = await prompt(self, *args, **kwargs)
        STAMPS.setdefault(self.job.message_id, ServerStamps()).prompted = PERF()
        return messages

    def stamped_push(self: DeltaPump, text: str, *args: Any, **kwargs: Any) -> Any:
        if text:
            STAMPS.setdefault(self._message_id, ServerStamps()).pushes.append(PERF())
        return push(self, text, *args, **kwargs)

    async def stamped_send(
        self: DeltaOutbox, pumps: list[DeltaPump], *args: Any, **kwargs: Any
    ) -> Any:
        started = PERF()
        result = await send_batch(self, pumps, *args, **kwargs)
        returned = PERF()
        for pump in pumps:
            stamps = STAMPS.setdefault(pump._message_id, ServerStamps())
            stamps.sends.append((pump.offset, started, returned))
        return result

    def stamped_send_now(
        self: DeltaOutbox, pumps: list[DeltaPump], *args: Any, **kwargs: Any
    ) -> Any:
        started = PERF()
        result = send_now(self, pumps, *args, **kwargs)
        returned = PERF()
        for pump in pumps:
            stamps = STAMPS.setdefault(pump._message_id, ServerStamps())
            stamps.sends.append((pump.offset, started, returned))
        return result

    Generation.__call__ = stamped_call  # type: ignore[method-assign]
    Generation._prompt = stamped_prompt  # type: ignore[method-assign]
    DeltaPump.push = stamped_push  # type: ignore[method-assign]
    DeltaOutbox._send = stamped_send  # type: ignore[method-assign]
    DeltaOutbox._send_now = stamped_send_now  # type: ignore[method-assign]


class Stalls:
    """Garbage-collector pauses, and how late a 10 ms timer of the loop fires (any lateness is
    time the loop spent on something else, or the process waited for a CPU)."""

    TICK = 0.010

    def __init__(self) -> None:
        self.gc_pauses: list[tuple[int, float]] = []  # (generation, seconds)
        self.lags: list[float] = []
        self._gc_started = 0.0
        self._task: asyncio.Task[None] | None = None

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = PERF()
        else:
            self.gc_pauses.append((int(info.get("generation", -1)), PERF() - self._gc_started))

    async def _tick(self) -> None:
        while True:
            before = PERF()
            await asyncio.sleep(self.TICK)
            self.lags.append(max(0.0, PERF() - before - self.TICK))

    def start(self) -> None:
        self.gc_pauses.clear()
        self.lags.clear()
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)
        self._task = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# --- the client ----------------------------------------------------------------------------


@functools.cache
def document(name: str) -> str:
    """The operation ``name`` of ``schema/`` with only the fragments it uses, as a client
    sends it (the files hold several operations, which the server would parse and validate)."""
    from graphql import (
        DocumentNode,
        FragmentDefinitionNode,
        FragmentSpreadNode,
        OperationDefinitionNode,
        parse,
        print_ast,
    )
    from graphql.language import Visitor, visit

    from tests.gql_client import operation_documents

    parsed = parse(operation_documents()[name])
    fragments = {
        d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = next(
        d
        for d in parsed.definitions
        if isinstance(d, OperationDefinitionNode) and d.name and d.name.value == name
    )

    class Spreads(Visitor):
        def __init__(self) -> None:
            super().__init__()
            self.names: set[str] = set()

        def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
            self.names.add(node.name.value)

    used: list[FragmentDefinitionNode] = []
    todo: list[Any] = [operation]
    seen: set[str] = set()
    while todo:
        spreads = Spreads()
        visit(todo.pop(), spreads)
        for fragment in sorted(spreads.names - seen):
            seen.add(fragment)
            used.append(fragments[fragment])
            todo.append(fragments[fragment])
    return print_ast(DocumentNode(definitions=(operation, *used)))


class Client:
    """GraphQL over HTTP with :func:`document` (fails on GraphQL errors)."""

    def __init__(self, http: Any) -> None:
        self.http = http

    async def op(self, name: str, token: str | None = None, /, **variables: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {"query": document(name), "variables": variables, "operationName": name}
        response = await self.http.post("/graphql", json=body, headers=headers)
        response.raise_for_status()
        payload = response.json()
        if payload.get("errors"):
            raise RuntimeError(f"{name}: {payload['errors']}")
        return payload["data"]


class GraphQLSocket:
    """graphql-transport-ws; every message is stamped when the reader receives it."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._queues: dict[str, asyncio.Queue[tuple[float, dict[str, Any]]]] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, url: str, token: str) -> AsyncIterator[GraphQLSocket]:
        import websockets

        ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"], max_size=None)
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        ack = json.loads(await ws.recv())
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        socket = cls(ws)
        try:
            yield socket
        finally:
            await ws.close()
            socket._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await socket._reader

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                received = PERF()
                message = json.loads(raw)
                if message.get("type") == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                    continue
                queue = self._queues.get(message.get("id", ""))
                if queue is not None:
                    queue.put_nowait((received, message))
        finally:
            for queue in self._queues.values():
                queue.put_nowait((PERF(), {"type": "complete"}))

    async def subscribe(
        self, name: str, **variables: Any
    ) -> tuple[str, asyncio.Queue[tuple[float, dict[str, Any]]]]:
        op_id = str(next(self._ids))
        queue = self._queues[op_id] = asyncio.Queue()
        payload = {"query": document(name), "variables": variables, "operationName": name}
        await self.ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))
        return op_id, queue

    async def stop(self, op_id: str) -> None:
        await self.ws.send(json.dumps({"id": op_id, "type": "complete"}))
        self._queues.pop(op_id, None)


@dataclass
class Received:
    """A delta as the client got it."""

    at: float
    offset: int
    text: str

    @property
    def end(self) -> int:
        return self.offset + len(self.text)


async def collect(
    queue: asyncio.Queue[tuple[float, dict[str, Any]]], field_name: str
) -> tuple[list[Received], dict[str, Any]]:
    """Deltas until the end event of the answer (which is returned)."""
    deltas: list[Received] = []
    while True:
        at, message = await queue.get()
        if message["type"] != "next":
            raise RuntimeError(f"the subscription ended without the answer's end: {message}")
        if message["payload"].get("errors"):
            raise RuntimeError(f"subscription errors: {message['payload']['errors']}")
        event = message["payload"]["data"][field_name]
        kind = event["__typename"]
        if kind == "MessageDelta":
            deltas.append(Received(at, event["offset"], event["text"]))
        elif kind in ("MessageCompleted", "MessageFailed"):
            return deltas, event
        elif kind == "SubscriptionRefused":
            raise RuntimeError(f"subscription refused: {event}")


# --- figures -------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def ms(seconds: float) -> float:
    return seconds * 1000.0


# --- set-up ------------------------------------------------------------------------------


@contextlib.contextmanager
def bench_database() -> Iterator[tuple[str, str]]:
    """A migrated, seeded database URL and a description of where it is."""
    from synapse_gql import migrations
    from tests.db import _seed

    given = os.environ.get("SYNAPSE_BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if given:
        migrations.upgrade(given)
        asyncio.run(_seed(given))
        yield given, "given by the environment"
        return
    from synapse_gql.embedded import EmbeddedPostgres

    root = Path(tempfile.mkdtemp(prefix="synapse-bench-"))
    try:
        server = EmbeddedPostgres(root / "pgdata", delete_on_exit=True)
        try:
            url = server.ensure_database("synapse_bench")
            migrations.upgrade(url)
            asyncio.run(_seed(url))
            yield url, "embedded PostgreSQL (temporary)"
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bench_settings(
    database_url: str, redis_url: str | None, provider_url: str, data_dir: str
) -> Any:
    """The served app's settings: OpenAI on the loopback provider with a key, realtime in
    process or on ``redis_url``, limits checked on every request but above what a run asks."""
    from pydantic import SecretStr

    from synapse_gql.config import Settings

    return Settings(
        _env_file=None,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=SecretStr(secrets.token_urlsafe(48)),
        data_dir=Path(data_dir),
        provider_base_urls={"openai": provider_url},
        openai_api_key=SecretStr("sk-bench"),
        stream_retention_seconds=60,
        log_level="warning",
        rate_limit_model_calls=1_000_000,
        rate_limit_user_points=100_000_000,
    )


async def arrange(gql: Any) -> tuple[str, str, str]:
    """A user (its token), a workspace and an OpenAI catalog model (global ids)."""
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    registered = await gql.op(
        "Register", input={"email": email, "name": "bench", "password": "correct horse battery"}
    )
    auth = registered["register"]
    assert auth["__typename"] == "AuthPayload", auth
    token = auth["accessToken"]
    workspace = (await gql.op("CreateWorkspace", token, input={"name": "Bench"}))["createWorkspace"]
    assert workspace["__typename"] == "Workspace", workspace
    llms = await gql.op("Llms", token, provider="openai", active=True, first=50)
    models = {edge["node"]["modelId"]: edge["node"]["id"] for edge in llms["llms"]["edges"]}
    if not models:
        raise RuntimeError("no active OpenAI model in the catalog")
    model_id = models.get("gpt-4o-mini") or next(iter(models.values()))
    return token, workspace["id"], model_id


async def set_budget(gql: Any, token: str, workspace_id: str) -> None:
    """A hard-stop workspace budget far above what the bench spends: every call reserves
    its worst case before it starts and settles when it ends."""
    given = {"workspaceId": workspace_id, "limit": "1000000", "hardStop": True}
    result = (await gql.op("SetBudget", token, input=given))["setBudget"]
    if result["__typename"] != "Budget":
        raise RuntimeError(f"setBudget failed: {result}")


# --- the provider and server processes ---------------------------------------------------


@contextlib.asynccontextmanager
async def provider_process(args: argparse.Namespace) -> AsyncIterator[str]:
    """``bench.latency_provider`` running; yields its base URL."""
    from bench.processes import stop_process

    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bench.latency_provider", "--tokens", str(args.tokens)),
        *("--token-interval-ms", str(args.token_interval_ms)),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if not line:
            raise RuntimeError("the loopback provider did not start")
        yield line.decode().strip()
    finally:
        await stop_process(process)


@contextlib.asynccontextmanager
async def server_process(
    args: argparse.Namespace, database_url: str, provider_url: str, data_dir: str
) -> AsyncIterator[tuple[str, int]]:
    """``bench.latency_server`` running and healthy; yields its address and pid."""
    import httpx

    from bench.processes import stop_process
    from tests.live import free_port

    port = free_port()
    config = {
        "database_url": database_url,
        "redis_url": args.redis,
        "provider_url": provider_url,
        "data_dir": data_dir,
        "port": port,
        "loop": args.loop,
    }
    log_path = Path(data_dir) / "server.log"
    with log_path.open("wb") as server_log:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bench.latency_server", json.dumps(config)),
            stdout=server_log,
            stderr=asyncio.subprocess.STDOUT,
        )
    address = f"127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=f"http://{address}") as http:
            for _ in range(600):
                if process.returncode is not None:
                    raise RuntimeError(f"the server exited: {log_path.read_text()[-3000:]}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/health")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the server did not become healthy in 60 s")
        yield address, process.pid
    finally:
        await stop_process(process)


# --- the rounds ----------------------------------------------------------------------------


@dataclass
class Bench:
    """What every round uses (the client's side of the three processes)."""

    gql: Client
    http: Any  # to the server
    provider_http: Any  # to the provider
    sdk: Any  # openai.AsyncOpenAI on the provider
    socket: GraphQLSocket
    token: str
    workspace_id: str
    model_id: str
    mode: str  # "message" or "conversation"
    calls_seen: int = 0

    async def provider_call(self) -> ProviderCall:
        """The stamps of the one provider call made since the last one read."""
        response = await self.provider_http.get(f"{CALLS_PATH}{self.calls_seen}")
        calls = response.json()
        if len(calls) != 1:
            raise RuntimeError(f"expected one provider call, got {len(calls)}")
        self.calls_seen += 1
        return ProviderCall(calls[0]["received"], calls[0]["writes"], calls[0]["texts"])

    async def server_cpu(self) -> float:
        return float((await self.http.get("/bench/cpu")).json())


async def direct_call(bench: Bench) -> Any:
    """The baseline: the ``openai`` SDK streaming from the same loopback provider here."""
    from bench.latency_figures import DirectRun

    received: list[tuple[float, int]] = []
    offset = 0
    cpu, sent = time.process_time(), PERF()
    stream = await bench.sdk.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            offset += len(chunk.choices[0].delta.content)
            received.append((PERF(), offset))
    cpu = time.process_time() - cpu
    return DirectRun(sent, received, await bench.provider_call(), cpu)


async def through_server(bench: Bench) -> Any:
    """Send a question in a new conversation and stamp its answer."""
    from bench.latency_figures import Run
    from synapse_gql.gql.relay import from_global_id

    gql, socket, token = bench.gql, bench.socket, bench.token
    created = await gql.op(
        "CreateConversation", token, input={"workspaceId": bench.workspace_id, "title": "bench"}
    )
    conversation = created["createConversation"]
    assert conversation["__typename"] == "Conversation", conversation
    if bench.mode == "conversation":
        op_id, queue = await socket.subscribe(
            "ConversationEvents", conversationId=conversation["id"]
        )
        await asyncio.sleep(0.05)  # let the subscription go live before sending
    given = {"conversationId": conversation["id"], "content": PROMPT, "model": bench.model_id}
    server_cpu = await bench.server_cpu()
    client_cpu, sent = time.process_time(), PERF()
    payload = (await gql.op("SendMessage", token, input=given))["sendMessage"]
    returned = PERF()
    if payload["__typename"] != "ChatTurn":
        raise RuntimeError(f"sendMessage failed: {payload}")
    answer_id = payload["assistantMessage"]["id"]
    subscribed = PERF()
    if bench.mode == "message":
        op_id, queue = await socket.subscribe("MessageStream", messageId=answer_id)
    field_name = "messageStream" if bench.mode == "message" else "conversationEvents"
    async with asyncio.timeout(60):
        deltas, end = await collect(queue, field_name)
    client_cpu = time.process_time() - client_cpu
    if bench.mode == "conversation":
        await socket.stop(op_id)
    # The answer is closed; its generation task ends before the next round.
    answer_db_id = from_global_id(answer_id, "Message")[1]
    stamps = (await bench.http.get(f"/bench/answer/{answer_db_id}")).json()
    server_cpu = await bench.server_cpu() - server_cpu
    server = ServerStamps(
        stamps["started"],
        stamps["prompted"],
        stamps["pushes"],
        [tuple(send) for send in stamps["sends"]],
    )
    message = end["message"]
    return Run(
        sent=sent,
        returned=returned,
        subscribed=subscribed,
        deltas=deltas,
        provider=await bench.provider_call(),
        server=server,
        status=message["status"],
        content=message["content"],
        reserved=stamps["reserved"],
        server_cpu=server_cpu,
        client_cpu=client_cpu,
    )


async def measure(args: argparse.Namespace, database_url: str) -> Any:
    import httpx
    import openai

    from bench.latency_figures import Figures

    figures = Figures()
    async with contextlib.AsyncExitStack() as stack:
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="synapse-bench-"))
        provider_url = await stack.enter_async_context(provider_process(args))
        address, _ = await stack.enter_async_context(
            server_process(args, database_url, provider_url, data_dir)
        )
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=f"http://{address}", timeout=60)
        )
        provider_http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=provider_url.removesuffix("/v1"), timeout=60)
        )
        sdk = openai.AsyncOpenAI(base_url=provider_url, api_key="sk-bench", max_retries=0)
        stack.push_async_callback(sdk.close)
        gql = Client(http)
        token, workspace_id, model_id = await arrange(gql)
        await set_budget(gql, token, workspace_id)
        socket = await stack.enter_async_context(
            GraphQLSocket.connect(f"ws://{address}/graphql", token)
        )
        bench = Bench(
            gql, http, provider_http, sdk, socket, token, workspace_id, model_id, args.subscribe
        )
        order = random.Random(7)
        for index in range(args.warmup + args.runs):
            if index == args.warmup:
                await http.post("/bench/stalls")
            first, second = (direct_call, through_server)[:: order.choice((1, -1))]
            one, other = await first(bench), await second(bench)
            run, direct = (one, other) if first is through_server else (other, one)
            if run.status != "COMPLETED":
                raise RuntimeError(f"round {index}: the answer is {run.status}")
            if index >= args.warmup:
                figures.add(run, direct)
        stalls = (await http.get("/bench/stalls")).json()
        figures.gc_pauses = [tuple(pause) for pause in stalls["gc_pauses"]]
        figures.lags = stalls["lags"]
    return figures


def environment(args: argparse.Namespace, database: str, load: float) -> dict[str, str]:
    return {
        "processes": "client (this one), server, loopback provider: one each",
        "clock": "time.perf_counter: " + time.get_clock_info("perf_counter").implementation,
        "realtime": f"Redis {args.redis}" if args.redis else "in-process (memory)",
        "subscription": (
            "messageStream, opened after sendMessage returned"
            if args.subscribe == "message"
            else "conversationEvents, opened before sendMessage"
        ),
        "budget": "hard-stop workspace budget (each call reserves, then settles)",
        "tokens per answer": f"{args.tokens}, every {args.token_interval_ms:g} ms",
        "rounds (+ warm-up)": f"{args.runs} (+ {args.warmup} excluded); each round one answer"
        " through the server and one direct SDK call, in random order",
        "event loop": args.loop,
        "database": database,
        "python / cpus": f"{platform.python_version()} / {os.cpu_count()}",
        "load average (1 min)": f"{load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end",
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stream_latency",
        description="Latency the server adds to streamed answers (figures, no assertions).",
    )
    parser.add_argument("--runs", type=int, default=20, help="measured rounds (default 20)")
    parser.add_argument("--warmup", type=int, default=2, help="excluded rounds first (2)")
    parser.add_argument("--tokens", type=int, default=200, help="chunks per answer (200)")
    parser.add_argument(
        "--token-interval-ms", type=float, default=5.0, help="between chunks (default 5)"
    )
    parser.add_argument("--redis", default=None, help="Redis URL for realtime (default memory)")
    parser.add_argument(
        "--subscribe",
        choices=("message", "conversation"),
        default="message",
        help="messageStream after the mutation (default) or conversationEvents before it",
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop of every process (uvloop, as `synapse-gql serve` uses when installed)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.tokens < 1 or args.warmup < 0 or args.token_interval_ms < 0:
        parser.error("--runs and --tokens must be positive, --warmup and the interval not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    from bench.latency_figures import report

    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    run = asyncio.run
    if args.loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            args.loop = "asyncio"
        else:
            run = uvloop.run
    load = os.getloadavg()[0]
    with bench_database() as (url, database):
        started = PERF()
        figures = run(measure(args, url))
        elapsed = PERF() - started
    print(report(figures, environment(args, database, load)))
    print(f"\n(measured in {elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
