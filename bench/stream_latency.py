"""How much latency the server adds to a streamed answer: to its first token and to each token.

    python -m bench.stream_latency [--runs 20] [--tokens 200] [--token-interval-ms 5]
                                   [--redis URL] [--subscribe message|conversation]

Everything runs in one process and one event loop, so every ``time.perf_counter()`` below is
on the same clock:

* a loopback OpenAI-compatible provider (written here, raw asyncio HTTP/1.1) that answers
  every streamed chat completion with ``--tokens`` content chunks, the first at once and then
  one every ``--token-interval-ms`` (on an absolute schedule), and records when it read the
  request and when each chunk was handed to the socket (right after ``transport.write``);
* the app (``create_app``, lifespan running) served by uvicorn on loopback, its ``openai``
  provider pointed at the fake, realtime in-process or over Redis (``--redis``);
* a client: HTTP GraphQL for the mutations, one graphql-transport-ws connection whose reader
  stamps every message when ``websockets`` hands it over. It sends each operation of
  ``schema/`` with only the fragments it uses, as a real client does.

Per run (a fresh conversation each, so every prompt is the same size): ``sendMessage`` with an
OpenAI catalog model, then (``--subscribe message``, the default) ``messageStream`` of the
answer once the mutation has returned, or (``--subscribe conversation``) ``conversationEvents``
opened before sending. ``Generation.__call__``, ``Generation._prompt``, ``DeltaPump.push`` and
``DeltaOutbox._send`` are wrapped (in this process only, the source is untouched) to
stamp when the generation started, when its prompt was built, when the server got each token
from the SDK and when it sent each delta, which splits the added latency into its stages.
See ``bench/README.md`` for what each printed figure is.

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
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PERF = time.perf_counter


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
    ``DeltaOutbox._send`` (a batch of deltas, one per answer) to stamp them."""
    from synapse_gql.chat.pump import DeltaOutbox, DeltaPump
    from synapse_gql.chat.runner import Generation

    call, prompt = Generation.__call__, Generation._prompt
    push, send_batch = DeltaPump.push, DeltaOutbox._send

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

    Generation.__call__ = stamped_call  # type: ignore[method-assign]
    Generation._prompt = stamped_prompt  # type: ignore[method-assign]
    DeltaPump.push = stamped_push  # type: ignore[method-assign]
    DeltaOutbox._send = stamped_send  # type: ignore[method-assign]


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


@dataclass
class Run:
    """The stamps of one answer."""

    sent: float
    returned: float
    subscribed: float
    deltas: list[Received]
    provider: ProviderCall
    server: ServerStamps
    status: str
    content: str


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


@dataclass
class Bench:
    """What every run uses."""

    gql: Any
    socket: GraphQLSocket
    app: Any
    provider: LoopbackOpenAI
    token: str
    workspace_id: str
    model_id: str
    mode: str  # "message" or "conversation"


async def one_run(bench: Bench) -> Run:
    """Send a question in a new conversation and stamp its answer."""
    from synapse_gql.gql.relay import from_global_id

    gql, socket, provider, token, mode = (
        bench.gql,
        bench.socket,
        bench.provider,
        bench.token,
        bench.mode,
    )
    created = await gql.op(
        "CreateConversation", token, input={"workspaceId": bench.workspace_id, "title": "bench"}
    )
    conversation = created["createConversation"]
    assert conversation["__typename"] == "Conversation", conversation
    if mode == "conversation":
        op_id, queue = await socket.subscribe(
            "ConversationEvents", conversationId=conversation["id"]
        )
        await asyncio.sleep(0.05)  # let the subscription go live before sending
    calls_before = len(provider.calls)
    given = {
        "conversationId": conversation["id"],
        "content": "Count, please.",
        "model": bench.model_id,
    }
    sent = PERF()
    payload = (await gql.op("SendMessage", token, input=given))["sendMessage"]
    returned = PERF()
    if payload["__typename"] != "ChatTurn":
        raise RuntimeError(f"sendMessage failed: {payload}")
    answer_id = payload["assistantMessage"]["id"]
    answer_db_id = from_global_id(answer_id, "Message")[1]
    subscribed = PERF()
    if mode == "message":
        op_id, queue = await socket.subscribe("MessageStream", messageId=answer_id)
    field_name = "messageStream" if mode == "message" else "conversationEvents"
    async with asyncio.timeout(30 + provider.tokens * provider.interval * 4):
        deltas, end = await collect(queue, field_name)
    if mode == "conversation":
        await socket.stop(op_id)
    # The answer is closed; let its generation task end before the next run.
    await bench.app.state.synapse.generations.wait(answer_db_id)
    calls = len(provider.calls) - calls_before
    if calls != 1:
        raise RuntimeError(f"expected one provider call, got {calls}")
    message = end["message"]
    return Run(
        sent=sent,
        returned=returned,
        subscribed=subscribed,
        deltas=deltas,
        provider=provider.calls[-1],
        server=STAMPS.pop(answer_db_id, ServerStamps()),
        status=message["status"],
        content=message["content"],
    )


# --- figures -------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def ms(seconds: float) -> float:
    return seconds * 1000.0


@dataclass
class Figures:
    """Per-run and per-token figures (seconds), pooled over the measured runs."""

    client_ttft: list[float] = field(default_factory=list)
    provider_ttft: list[float] = field(default_factory=list)
    added_ttft: list[float] = field(default_factory=list)
    before_call: list[float] = field(default_factory=list)
    to_generation: list[float] = field(default_factory=list)
    prompt: list[float] = field(default_factory=list)
    sdk_request: list[float] = field(default_factory=list)
    first_delivery: list[float] = field(default_factory=list)
    mutation: list[float] = field(default_factory=list)
    subscribe_to_first: list[float] = field(default_factory=list)
    caught_up: int = 0
    per_token: list[float] = field(default_factory=list)
    per_token_live: list[float] = field(default_factory=list)
    sdk: list[float] = field(default_factory=list)  # chunk written -> DeltaPump.push
    pump_wait: list[float] = field(default_factory=list)  # push -> its delta's send started
    send: list[float] = field(default_factory=list)  # the send (log append + publish)
    to_client: list[float] = field(default_factory=list)  # send returned -> client received
    deltas: list[int] = field(default_factory=list)
    chunks: list[int] = field(default_factory=list)
    text_mismatches: int = 0
    stalls: Stalls = field(default_factory=Stalls)
    objects: int = 0  # tracked by the garbage collector, alive after the last run

    def add(self, run: Run) -> None:
        call = run.provider
        if not run.deltas or not call.writes:
            raise RuntimeError(f"an answer without deltas or chunks (status {run.status})")
        streamed = "".join(d.text for d in sorted(run.deltas, key=lambda d: d.offset))
        if streamed != "".join(call.texts) or run.content != streamed:
            self.text_mismatches += 1
        first_delta = run.deltas[0].at
        self.client_ttft.append(first_delta - run.sent)
        self.provider_ttft.append(call.writes[0] - call.received)
        self.added_ttft.append(self.client_ttft[-1] - self.provider_ttft[-1])
        self.before_call.append(call.received - run.sent)
        self.to_generation.append(run.server.started - run.sent)
        self.prompt.append(run.server.prompted - run.server.started)
        self.sdk_request.append(call.received - run.server.prompted)
        self.first_delivery.append(first_delta - call.writes[0])
        self.mutation.append(run.returned - run.sent)
        self.subscribe_to_first.append(first_delta - run.subscribed)
        if call.writes[0] < run.subscribed:
            self.caught_up += 1
        self.deltas.append(len(run.deltas))
        self.chunks.append(len(call.writes))
        self._per_token(run)

    def _per_token(self, run: Run) -> None:
        call, server = run.provider, run.server
        ends = list(itertools.accumulate(len(text) for text in call.texts))
        send_ends = [end for end, _, _ in server.sends]
        by_end = sorted(run.deltas, key=lambda d: d.end)
        first_delta = run.deltas[0].at
        delta_index = 0
        send_index = 0
        for index, (end, written) in enumerate(zip(ends, call.writes, strict=True)):
            while delta_index < len(by_end) and by_end[delta_index].end < end:
                delta_index += 1
            if delta_index == len(by_end):
                break
            received = by_end[delta_index]
            self.per_token.append(received.at - written)
            if written >= first_delta:
                self.per_token_live.append(received.at - written)
            if index < len(server.pushes):
                self.sdk.append(server.pushes[index] - written)
                while send_index < len(send_ends) and send_ends[send_index] < end:
                    send_index += 1
                if send_index < len(server.sends):
                    _, started, done = server.sends[send_index]
                    self.pump_wait.append(started - server.pushes[index])
                    if send_ends[send_index] == end:  # each delta once, at its last chunk
                        self.send.append(done - started)
                        if written >= first_delta and received.end == end:
                            self.to_client.append(received.at - done)


def gc_lines(pauses: list[tuple[int, float]]) -> list[str]:
    """One line per collected generation: how many, longest, total."""
    lines = []
    for generation in sorted({g for g, _ in pauses}):
        taken = [seconds for g, seconds in pauses if g == generation]
        lines.append(
            f"  garbage collections of generation {generation}: {len(taken)}, longest"
            f" {ms(max(taken)):.2f} ms, total {ms(sum(taken)):.1f} ms"
        )
    return lines or ["  no garbage collection"]


def report(figures: Figures, environment: dict[str, str]) -> str:
    lines = ["environment"]
    lines += [f"  {name:<22} {value}" for name, value in environment.items()]

    def row(label: str, values: list[float]) -> str:
        if not values:
            return f"  {label:<46}   (no data)"
        cells = [statistics.median(values), percentile(values, 0.95), max(values)]
        return f"  {label:<46}{''.join(f'{ms(c):8.2f}' for c in cells)}   (n={len(values)})"

    runs = len(figures.client_ttft)
    lines += [
        "",
        f"time to first token, per run (ms)               {'median':>8}{'p95':>8}{'max':>8}",
        row("client TTFT (mutation sent -> 1st delta)", figures.client_ttft),
        row("provider's own TTFT (request -> 1st chunk)", figures.provider_ttft),
        row("SERVER-ADDED TTFT (client - provider's own)", figures.added_ttft),
        row("  = mutation sent -> provider request read", figures.before_call),
        row("      mutation sent -> generation task starts", figures.to_generation),
        row("      building the prompt (history query)", figures.prompt),
        row("      prompt built -> provider request read", figures.sdk_request),
        row("  + 1st chunk written -> 1st delta received", figures.first_delivery),
        row("mutation round trip (sendMessage)", figures.mutation),
        row("subscribe sent -> 1st delta received", figures.subscribe_to_first),
        f"  runs whose 1st chunk was written before the subscribe was sent: {figures.caught_up}"
        f"/{runs}",
        "",
        f"per token, pooled over runs (ms)                {'median':>8}{'p95':>8}{'max':>8}",
        row("ADDED PER TOKEN (chunk written -> its delta)", figures.per_token),
        row("  live only (chunks written after 1st delta)", figures.per_token_live),
        row("  chunk written -> server has the token", figures.sdk),
        row("  token -> its delta's send starts", figures.pump_wait),
        row("  delta send (log append + publish)", figures.send),
        row("  send returned -> client has it (live)", figures.to_client),
        "",
        f"deltas per answer (mean): {statistics.mean(figures.deltas):.1f} for "
        f"{statistics.mean(figures.chunks):.0f} chunks"
        f" (coalescing {statistics.mean(figures.chunks) / statistics.mean(figures.deltas):.2f}"
        f" chunks per delta)",
        f"answers whose streamed text differs from the provider's: {figures.text_mismatches}",
        "",
        "stalls during the measured runs (ms)            median     p95     max",
        row("event-loop lag (10 ms timer fired late by)", figures.stalls.lags),
        *gc_lines(figures.stalls.gc_pauses),
    ]
    return "\n".join(lines)


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


async def measure(args: argparse.Namespace, database_url: str) -> Figures:
    import httpx

    from synapse_gql.app import create_app
    from tests.live import serve

    instrument_server()
    figures = Figures()
    async with contextlib.AsyncExitStack() as stack:
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="synapse-bench-"))
        interval = args.token_interval_ms / 1000.0
        provider = await stack.enter_async_context(LoopbackOpenAI(args.tokens, interval))
        settings = bench_settings(database_url, args.redis, provider.base_url, data_dir)
        app = create_app(settings)
        await stack.enter_async_context(app.router.lifespan_context(app))
        if args.gc_freeze:
            gc.collect()
            gc.freeze()
        address = await stack.enter_async_context(serve(app))
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=f"http://{address}", timeout=60)
        )
        gql = Client(http)
        token, workspace_id, model_id = await arrange(gql)
        socket = await stack.enter_async_context(
            GraphQLSocket.connect(f"ws://{address}/graphql", token)
        )
        bench = Bench(gql, socket, app, provider, token, workspace_id, model_id, args.subscribe)
        for index in range(args.warmup + args.runs):
            if index == args.warmup:
                figures.stalls.start()
            run = await one_run(bench)
            if run.status != "COMPLETED":
                raise RuntimeError(f"run {index}: the answer is {run.status}")
            if index >= args.warmup:
                figures.add(run)
        await figures.stalls.stop()
        gc.collect()  # after the measured runs: what stays alive
        figures.objects = len(gc.get_objects())
        await asyncio.sleep(0.2)  # let the server finish with the last subscription
    return figures


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


def environment(args: argparse.Namespace, database: str, figures: Figures) -> dict[str, str]:
    return {
        "realtime": f"Redis {args.redis}" if args.redis else "in-process (memory)",
        "subscription": (
            "messageStream, opened after sendMessage returned"
            if args.subscribe == "message"
            else "conversationEvents, opened before sendMessage"
        ),
        "tokens per answer": str(args.tokens),
        "token interval": f"{args.token_interval_ms:g} ms",
        "runs (+ warm-up)": f"{args.runs} (+ {args.warmup} excluded)",
        "event loop": args.loop + (", gc.freeze() after start-up" if args.gc_freeze else ""),
        "objects tracked by gc": f"{figures.objects} alive after the last run"
        + (f" ({gc.get_freeze_count()} frozen)" if args.gc_freeze else ""),
        "database": database,
        "python / cpus": f"{platform.python_version()} / {os.cpu_count()}",
        "load average (1 min)": f"{os.getloadavg()[0]:.2f} at the end",
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stream_latency",
        description="Latency the server adds to streamed answers (figures, no assertions).",
    )
    parser.add_argument("--runs", type=int, default=20, help="measured answers (default 20)")
    parser.add_argument("--warmup", type=int, default=2, help="excluded answers first (2)")
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
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() once the app has started (a mitigation for long full collections)",
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop (uvloop, as `synapse-gql serve` uses when installed)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.tokens < 1 or args.warmup < 0 or args.token_interval_ms < 0:
        parser.error("--runs and --tokens must be positive, --warmup and the interval not negative")
    return args


def main(argv: list[str] | None = None) -> int:
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
    with bench_database() as (url, database):
        started = PERF()
        figures = run(measure(args, url))
        elapsed = PERF() - started
    print(report(figures, environment(args, database, figures)))
    print(f"\n(measured in {elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
