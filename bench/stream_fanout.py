"""Streams at scale: one answer to many subscribers, and many answers at once.

    python -m bench.stream_fanout [--cases PATTERN[,PATTERN...]] [--quick] [--list]
                                  [--redis URL] [--timeout SECONDS] [--tokens 104]
                                  [--per-socket 100] [--ramp SECONDS] [--pool-size 40]

The server is a real process (``python -m synapse_gql.serving``: uvicorn with the options
``synapse-gql serve`` uses), one per realtime backend and mock token rate, so its CPU time
and memory are read from ``/proc/<pid>``. The answers come from the built-in mock model,
which streams a deterministic reply at ``SYNAPSE_MOCK_TOKENS_PER_SECOND`` on a fixed
schedule from the start of the call. The load is made in this process (uvloop when installed): raw
graphql-transport-ws frames over the ``websockets`` client, one subscribe document encoded
once per answer, ``--per-socket`` subscriptions per socket, every message stamped when the
reader gets it.

Cases (``--list`` prints their names; ``--cases`` takes names or shell patterns):

* ``one-<N>-<rate>-<backend>``: one answer of ``--tokens`` tokens, N subscribers all
  subscribing (``messageStream``) the moment ``sendMessage`` returns;
* ``many-<M>-<rate>-<backend>``: M answers started within ``--ramp`` seconds, each watched
  by one subscriber who subscribes the moment its ``sendMessage`` returns.

The database: ``SYNAPSE_BENCH_DATABASE_URL`` or ``DATABASE_URL`` (migrated and seeded), else
an embedded PostgreSQL in a temporary directory. See ``bench/README.md`` for the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import fnmatch
import itertools
import json
import math
import os
import platform
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.processes import stop_process

PERF = time.perf_counter
SOCKET_PROTOCOL = "graphql-transport-ws"
SERVER_START_SECONDS = 120
LENIENT = 10**9  # rate limits and socket limits far above what a case asks
SHARED = True  # the subscribers of a case watch one answer


# --- the server process ------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment(
    database_url: str, redis_url: str | None, data_dir: Path, rate: float, pool_size: int
) -> dict[str, str]:
    """The server's environment: this one without its Synapse settings, plus the bench's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SYNAPSE_") and key not in ("DATABASE_URL", "REDIS_URL")
    }
    settings: dict[str, Any] = {
        "secret_key": secrets.token_urlsafe(48),
        "data_dir": data_dir,
        "log_level": "warning",
        "mock_tokens_per_second": rate,
        "db_pool_size": pool_size,
        "max_sockets_per_user": LENIENT,
        "max_sockets_per_address": LENIENT,
        "registrations_per_address_per_hour": LENIENT,
        "rate_limit_anonymous_points": LENIENT,
        "rate_limit_user_points": LENIENT,
        "rate_limit_api_token_points": LENIENT,
        "rate_limit_model_calls": LENIENT,
    }
    env.update({f"SYNAPSE_{name.upper()}": str(value) for name, value in settings.items()})
    env.update(DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def postgres_cpu_seconds() -> float | None:
    """CPU time of this machine's PostgreSQL processes so far, backends that exited
    included (the postmaster's reaped children), or None when none runs here."""
    ticks, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited meanwhile
        name, _, rest = text.partition(" (")[2].rpartition(")")
        if name != "postgres":
            continue
        fields = rest.split()
        ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        found = True
    return ticks / os.sysconf("SC_CLK_TCK") if found else None


@dataclass
class Server:
    """A running server process: its pid, addresses and log."""

    process: asyncio.subprocess.Process
    base_url: str
    ws_url: str
    log_path: Path

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process (all its threads) so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_mb(self) -> tuple[float, float]:
        """Resident memory now and at its peak (MiB)."""
        values = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) / 1024
        return values["VmRSS"], values["VmHWM"]

    def log_tail(self, characters: int = 4000) -> str:
        with contextlib.suppress(FileNotFoundError):
            return self.log_path.read_text(errors="replace")[-characters:]
        return ""


@contextlib.asynccontextmanager
async def server_process(env: dict[str, str], data_dir: Path) -> AsyncIterator[Server]:
    """``python -m synapse_gql.serving`` on a free port, healthy on entry, stopped
    (SIGTERM, then SIGKILL after 30 s) on exit."""
    import httpx

    port = free_port()
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "synapse_gql.serving"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            env=env,
            cwd=str(data_dir),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/graphql", log_path)
    try:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            await _wait_healthy(server, http)
        yield server
    except BaseException:
        print(f"----- server log (pid {process.pid}) -----\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        await stop_process(process)


async def _wait_healthy(server: Server, http: Any) -> None:
    import httpx

    async with asyncio.timeout(SERVER_START_SECONDS):
        while server.process.returncode is None:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the server exited with {server.process.returncode}")


async def settle(server: Server, seconds: float = 60.0) -> None:
    """Wait until the server is idle (under 5% of a CPU for 0.5 s): the previous case's
    answers and subscriptions are over."""
    deadline = PERF() + seconds
    while PERF() < deadline:
        before = server.cpu_seconds()
        await asyncio.sleep(0.5)
        if server.cpu_seconds() - before < 0.025:
            return


# --- GraphQL over HTTP ------------------------------------------------------------------


class Api:
    """The operations of ``schema/`` over HTTP (fails on GraphQL errors)."""

    def __init__(self, http: Any, database_url: str) -> None:
        self.http = http
        self.database_url = database_url
        self.token = ""
        self.user_id = ""

    async def op(self, name: str, **variables: Any) -> dict[str, Any]:
        from tests.gql_client import operation_documents

        body = {"query": operation_documents()[name], "variables": variables, "operationName": name}
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post("/graphql", json=body, headers=headers)
        response.raise_for_status()
        payload = response.json()
        if payload.get("errors"):
            raise RuntimeError(f"{name}: {payload['errors']}")
        return payload["data"]

    async def sign_up(self) -> str:
        """Register a user (whose token is then used) and create its workspace; the
        workspace's id."""
        email = f"fanout-{secrets.token_hex(6)}@example.com"
        registered = await self.op(
            "Register", input={"email": email, "name": "bench", "password": "correct horse battery"}
        )
        self.token = registered["register"]["accessToken"]
        self.user_id = registered["register"]["user"]["id"]
        workspace = (await self.op("CreateWorkspace", input={"name": "Fan-out"}))["createWorkspace"]
        return workspace["id"]

    async def conversations(self, workspace_id: str, count: int) -> list[str]:
        """``count`` new conversations of the workspace, made by the signed-up user in one
        SQL statement (as ``createConversation`` makes them); their global ids."""
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        from synapse_gql.db import async_url
        from synapse_gql.gql.relay import from_global_id, to_global_id

        insert = text(
            "INSERT INTO conversations (id, workspace_id, created_by_id, title, status,"
            " metadata, total_cost) SELECT gen_random_uuid(), :workspace, :user,"
            " 'fan-out ' || n, 'active', '{}'::jsonb, 0 FROM generate_series(1, :count) n"
            " RETURNING id"
        )
        engine = create_async_engine(async_url(self.database_url))
        try:
            async with engine.begin() as connection:
                rows = await connection.execute(
                    insert,
                    {
                        "workspace": from_global_id(workspace_id, "Workspace")[1],
                        "user": from_global_id(self.user_id, "User")[1],
                        "count": count,
                    },
                )
                return [to_global_id("Conversation", row.id) for row in rows]
        finally:
            await engine.dispose()

    async def send(self, conversation_id: str, content: str) -> str:
        """``sendMessage``; the id of the answer."""
        given = {"conversationId": conversation_id, "content": content}
        turn = (await self.op("SendMessage", input=given))["sendMessage"]
        if turn["__typename"] != "ChatTurn":
            raise RuntimeError(f"sendMessage: {turn}")
        return turn["assistantMessage"]["id"]


# --- the subscribers ----------------------------------------------------------------------


@dataclass
class Subscriber:
    """What one subscription received: (stamp, sequence, offset, text) per delta, its end."""

    deltas: list[tuple[float, int, int, str]] = field(default_factory=list)
    first_at: float = math.nan
    ended_at: float = math.nan
    final_sequence: int = 0
    final_text: str | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return not math.isnan(self.ended_at)


class Watchers:
    """Every subscriber of a case; ``all_done`` is set when the last one has ended,
    ``all_started`` when the last one has received its first message."""

    def __init__(self, count: int) -> None:
        self.subscribers = [Subscriber() for _ in range(count)]
        self.open = count
        self.waiting_first = count
        self.all_done = asyncio.Event()
        self.all_started = asyncio.Event()
        self.on_all_started: list[Any] = []  # called once, when the last one started
        if count == 0:
            self.all_done.set()
            self.all_started.set()

    def end(self, subscriber: Subscriber, at: float) -> None:
        if not subscriber.done:
            subscriber.ended_at = at
            self.open -= 1
            if self.open == 0:
                self.all_done.set()

    def receive(self, subscriber: Subscriber, at: float, message: dict[str, Any]) -> None:
        """One graphql-transport-ws message of ``subscriber``'s operation."""
        if math.isnan(subscriber.first_at):
            subscriber.first_at = at
            self.waiting_first -= 1
            if self.waiting_first == 0:
                for call in self.on_all_started:
                    call()
                self.all_started.set()
        kind = message["type"]
        if kind != "next":
            if kind == "error" or not subscriber.done:
                subscriber.error = subscriber.error or f"{kind}: {message.get('payload')}"
            self.end(subscriber, at)
            return
        payload = message["payload"]
        if payload.get("errors"):
            subscriber.error = str(payload["errors"])
            return
        event = payload["data"]["messageStream"]
        typename = event["__typename"]
        if typename == "MessageDelta":
            subscriber.deltas.append((at, event["sequence"], event["offset"], event["text"]))
        elif typename in ("MessageCompleted", "MessageFailed"):
            subscriber.final_sequence = event["sequence"]
            subscriber.final_text = event["message"]["content"]
            if typename == "MessageFailed":
                subscriber.error = f"MessageFailed: {event['code']}"
            self.end(subscriber, at)
        else:
            subscriber.error = f"{typename}: {event}"
            self.end(subscriber, at)


class Socket:
    """One graphql-transport-ws connection carrying many subscriptions of :class:`Watchers`."""

    def __init__(self, ws: Any, watchers: Watchers) -> None:
        self.ws = ws
        self.watchers = watchers
        self.operations: dict[str, Subscriber] = {}
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, token: str, watchers: Watchers) -> Socket:
        import websockets

        ws = await websockets.connect(
            url, subprotocols=[SOCKET_PROTOCOL], max_size=None, compression=None, max_queue=None
        )
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        ack = json.loads(await ws.recv())
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        return cls(ws, watchers)

    async def _read(self) -> None:
        loads, watchers, operations = json.loads, self.watchers, self.operations
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                at = PERF()
                message = loads(raw)
                subscriber = operations.get(message.get("id"))
                if subscriber is not None:
                    watchers.receive(subscriber, at, message)
                elif message.get("type") == "ping":
                    await self.ws.send('{"type":"pong"}')
        at = PERF()
        for subscriber in self.operations.values():
            if not subscriber.done:
                subscriber.error = subscriber.error or "the socket closed"
                watchers.end(subscriber, at)

    async def subscribe(self, op_id: str, subscriber: Subscriber, payload: str) -> None:
        """Start ``messageStream`` (``payload`` is its encoded operation) as ``op_id``."""
        self.operations[op_id] = subscriber
        await self.ws.send(f'{{"id":"{op_id}","type":"subscribe","payload":{payload}}}')

    async def close(self) -> None:
        """Stop reading (subscribers still open stay so: the case timed out), then close."""
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader
        with contextlib.suppress(Exception):
            await self.ws.close()


@contextlib.asynccontextmanager
async def sockets(
    url: str, token: str, watchers: Watchers, per_socket: int
) -> AsyncIterator[list[Socket]]:
    """Enough sockets for every subscriber at ``per_socket`` subscriptions each."""
    count = max(1, math.ceil(len(watchers.subscribers) / per_socket))
    opened: list[Socket] = []
    try:
        for first in range(0, count, 20):
            batch = range(first, min(count, first + 20))
            opened += await asyncio.gather(*(Socket.open(url, token, watchers) for _ in batch))
        yield opened
    finally:
        await asyncio.gather(*(socket.close() for socket in opened))


def stream_payload(message_id: str) -> str:
    """The encoded ``messageStream`` operation of ``message_id``."""
    from tests.gql_client import operation_documents

    return json.dumps(
        {
            "query": operation_documents()["MessageStream"],
            "operationName": "MessageStream",
            "variables": {"messageId": message_id},
        }
    )


# --- the mock model's answer --------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    """A question whose mock answer has the wanted number of tokens, and where each token
    of that answer ends (characters: the answer is ASCII)."""

    content: str
    answer: str
    token_ends: tuple[int, ...]


def prompt_with(tokens: int) -> Prompt:
    """The first question ``Watchers <n>`` whose mock answer has ``tokens`` tokens (or the
    closest one)."""
    from synapse_gql.llm.mock_provider import mock_reply, split_tokens
    from synapse_gql.llm.types import ChatMessage

    best: Prompt | None = None
    for index in range(2000):
        content = f"Watchers {index}"
        answer = mock_reply([ChatMessage(role="user", content=content)])
        parts = split_tokens(answer)
        candidate = Prompt(content, answer, tuple(itertools.accumulate(map(len, parts))))
        if best is None or abs(len(parts) - tokens) < abs(len(best.token_ends) - tokens):
            best = candidate
        if len(parts) == tokens:
            break
    assert best is not None
    return best


# --- figures ------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def spread(values: list[float], scale: float = 1000.0) -> str:
    """``p50 / p99 / max`` of seconds, in milliseconds."""
    if not values:
        return "(no data)"
    cells = [percentile(values, 0.5), percentile(values, 0.99), max(values)]
    return " / ".join(f"{cell * scale:.1f}" for cell in cells) + f"  (n={len(values)})"


@dataclass
class Integrity:
    """Exactly once and in order, per subscriber, against the committed answer."""

    written: int  # deltas written: the answer's last sequence (mean over answers)
    subscribers: int
    ended: int
    errors: list[str]
    nothing: int  # subscribers who received no delta and no end
    incomplete: int  # subscribers whose deltas do not spell the committed text
    missing: int  # sequences not received (lost, or merged into a later delta)
    duplicated: int
    out_of_order: int
    received: list[int]  # deltas received per subscriber


def integrity(subscribers: list[Subscriber], answer: str, shared: bool) -> Integrity:
    """Check every subscriber against its committed answer (``answer`` when it did not get
    the end). ``shared``: they all watch one answer, whose last sequence anyone saw."""
    everyone = max((last_sequence(s) for s in subscribers), default=0)
    result = Integrity(0, len(subscribers), 0, [], 0, 0, 0, 0, 0, [])
    for subscriber in subscribers:
        sequences = [sequence for _, sequence, _, _ in subscriber.deltas]
        result.ended += subscriber.final_text is not None
        result.errors += [subscriber.error] if subscriber.error else []
        result.nothing += not sequences and subscriber.final_text is None
        result.received.append(len(sequences))
        result.duplicated += len(sequences) - len(set(sequences))
        result.out_of_order += sum(1 for a, b in itertools.pairwise(sequences) if b <= a)
        written = everyone if shared else last_sequence(subscriber)
        result.written += written
        result.missing += len(set(range(1, written + 1)) - set(sequences))
        text = "".join(text for _, _, _, text in sorted(subscriber.deltas, key=lambda d: d[1]))
        expected = subscriber.final_text if subscriber.final_text is not None else answer
        result.incomplete += text != expected
    if subscribers:
        result.written //= len(subscribers)
    return result


def last_sequence(subscriber: Subscriber) -> int:
    """The last sequence of the subscriber's answer, as far as it knows."""
    return max([subscriber.final_sequence, *(delta[1] for delta in subscriber.deltas)])


def integrity_lines(check: Integrity) -> list[str]:
    received = check.received or [0]
    lines = [
        f"  subscribers ended / total      {check.ended} / {check.subscribers}"
        f" (received nothing: {check.nothing})",
        f"  deltas written per answer (last sequence) {check.written}",
        f"  deltas received per subscriber mean {statistics.mean(received):.1f},"
        f" min {min(received)}, max {max(received)}",
        f"  LOST: subscribers whose text differs from the committed one: {check.incomplete};"
        f" sequences not received: {check.missing}",
        f"  duplicated deltas {check.duplicated}, out of order {check.out_of_order}",
    ]
    kinds = collections.Counter(error[:160] for error in check.errors)
    for error, count in kinds.most_common(3):
        lines.append(f"  errors: {count} x {error}")
    return lines


@dataclass
class Usage:
    """Server CPU and memory, and the bench's own CPU, over a case."""

    server: Server
    cpu_before: float = 0.0
    client_before: float = 0.0
    wall_before: float = 0.0
    postgres_before: float | None = None
    cpu: float = 0.0
    client_cpu: float = 0.0
    wall: float = 0.0
    postgres: float | None = None

    def start(self) -> None:
        self.cpu_before = self.server.cpu_seconds()
        self.client_before = time.process_time()
        self.wall_before = PERF()
        self.postgres_before = postgres_cpu_seconds()

    def stop(self) -> None:
        self.cpu = self.server.cpu_seconds() - self.cpu_before
        self.client_cpu = time.process_time() - self.client_before
        self.wall = PERF() - self.wall_before
        after = postgres_cpu_seconds()
        if after is not None and self.postgres_before is not None:
            self.postgres = after - self.postgres_before

    def per_answer_line(self, answers: int) -> str:
        """Server and PostgreSQL CPU per answer (PostgreSQL: every process of it here)."""
        postgres = "n/a" if self.postgres is None else f"{self.postgres / answers * 1000:.1f} ms"
        return (
            f"  CPU PER ANSWER server {self.cpu / answers * 1000:.1f} ms,"
            f" PostgreSQL {postgres} ({answers} answers)"
        )

    def lines(self, subscriber_deltas: int) -> list[str]:
        rss, peak = self.server.memory_mb()
        per = self.cpu / subscriber_deltas * 1e6 if subscriber_deltas else math.nan
        return [
            f"  SERVER CPU per subscriber-delta {per:.1f} us"
            f" ({self.cpu:.2f} s CPU for {subscriber_deltas} deltas delivered)",
            f"  server CPU {self.cpu:.2f} s over {self.wall:.2f} s"
            f" ({100 * self.cpu / self.wall:.0f}% of one core);"
            f" bench client CPU {self.client_cpu:.2f} s",
            f"  server RSS {rss:.0f} MiB (peak {peak:.0f} MiB)",
        ]


# --- the cases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One measured situation, named ``<kind>-<count>-<rate>-<backend>``."""

    kind: str  # "one" (one answer, N subscribers) or "many" (N answers, one subscriber each)
    count: int
    rate: int
    backend: str  # "memory" or "redis"

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.count}-{self.rate}-{self.backend}"


@dataclass
class Context:
    """What the cases of one server share."""

    server: Server
    api: Api
    workspace_id: str
    prompt: Prompt
    per_socket: int
    timeout: float
    ramp: float


async def wait_all(
    watchers: Watchers, seconds: float, starting: Awaitable[Any] | None = None
) -> bool:
    """Wait for ``starting`` (sends and subscriptions), then for every subscriber to end;
    False when ``seconds`` passed first (what was still starting is cancelled)."""
    try:
        async with asyncio.timeout(seconds):
            if starting is not None:
                await starting
            await watchers.all_done.wait()
    except TimeoutError:
        return False
    return True


def timeout_line(finished: bool, watchers: Watchers, timeout: float) -> list[str]:
    """A line saying how far a case got when it ran out of time (none when it did not)."""
    if finished:
        return []
    ended = len(watchers.subscribers) - watchers.open
    return [f"  TIMED OUT after {timeout:.0f} s: {ended} of {len(watchers.subscribers)} ended"]


async def one_answer(context: Context, case: Case) -> list[str]:
    """One answer, ``case.count`` subscribers subscribing the moment ``sendMessage`` returns."""
    [conversation] = await context.api.conversations(context.workspace_id, 1)
    watchers = Watchers(case.count)
    usage = Usage(context.server)
    window: list[float] = []  # server CPU when sendMessage returned, when all had started
    watchers.on_all_started.append(lambda: window.append(context.server.cpu_seconds()))
    async with sockets(
        context.server.ws_url, context.api.token, watchers, context.per_socket
    ) as opened:
        usage.start()
        try:
            answer_id = await context.api.send(conversation, context.prompt.content)
        except Exception as error:
            return [f"  sendMessage failed: {error!r:.500}"]
        returned = PERF()
        window.append(context.server.cpu_seconds())
        payload = stream_payload(answer_id)
        starts = []
        for index, socket in enumerate(opened):
            chunk = range(index * context.per_socket, (index + 1) * context.per_socket)
            starts.append(subscribe_all(socket, watchers, chunk, payload))
        await asyncio.gather(*starts)
        frames_sent = PERF() - returned
        finished = await wait_all(watchers, context.timeout)
        usage.stop()
    subscribers = watchers.subscribers
    check = integrity(subscribers, context.prompt.answer, SHARED)
    firsts = [s.first_at - returned for s in subscribers if not math.isnan(s.first_at)]
    all_subscribed = returned + max(firsts, default=math.nan)
    delays, live = delivery_delays(subscribers, all_subscribed)
    return [
        *timeout_line(finished, watchers, context.timeout),
        f"  subscribe frames written in    {frames_sent * 1000:.1f} ms",
        f"  SUBSCRIBE-ALL (sendMessage returned -> every subscriber's 1st message)"
        f" {max(firsts, default=math.nan) * 1000:.1f} ms",
        *window_lines(window, case.count),
        f"  DELIVERY after the 1st subscriber, ms p50/p99/max: {spread(delays)}",
        f"    deltas first delivered after all had subscribed: {spread(live)}",
        *integrity_lines(check),
        *usage.lines(sum(check.received)),
    ]


def window_lines(window: list[float], count: int) -> list[str]:
    """The server's CPU over the subscribe window, per subscriber (set-up, replay of the
    deltas written meanwhile and their delivery included)."""
    if len(window) < 2:
        return []
    cpu = window[1] - window[0]
    return [
        f"    server CPU over that window {cpu * 1000:.0f} ms,"
        f" {cpu / count * 1e6:.0f} us per subscriber"
    ]


async def subscribe_all(
    socket: Socket, watchers: Watchers, indexes: Iterable[int], payload: str
) -> None:
    for index in indexes:
        if index < len(watchers.subscribers):
            await socket.subscribe(str(index + 1), watchers.subscribers[index], payload)


def delivery_delays(
    subscribers: list[Subscriber], all_subscribed: float
) -> tuple[list[float], list[float]]:
    """For every delta each subscriber received: its stamp - the first subscriber's stamp of
    the same sequence; and the same for the sequences first received after ``all_subscribed``."""
    first: dict[int, float] = {}
    for subscriber in subscribers:
        for at, sequence, _, _ in subscriber.deltas:
            if at < first.get(sequence, math.inf):
                first[sequence] = at
    delays: list[float] = []
    live: list[float] = []
    for subscriber in subscribers:
        for at, sequence, _, _ in subscriber.deltas:
            delays.append(at - first[sequence])
            if first[sequence] > all_subscribed:
                live.append(at - first[sequence])
    return delays, live


async def many_answers(context: Context, case: Case) -> list[str]:
    """``case.count`` answers started within ``--ramp`` seconds, one subscriber each."""
    conversations = await context.api.conversations(context.workspace_id, case.count)
    watchers = Watchers(case.count)
    usage = Usage(context.server)
    sends: list[float] = []
    async with sockets(
        context.server.ws_url, context.api.token, watchers, context.per_socket
    ) as opened:
        usage.start()
        began = PERF()

        async def start(index: int) -> None:
            await asyncio.sleep(max(0.0, began + index * context.ramp / case.count - PERF()))
            subscriber = watchers.subscribers[index]
            sent = PERF()
            try:
                answer_id = await context.api.send(conversations[index], context.prompt.content)
            except Exception as error:
                subscriber.error = f"sendMessage: {error!r}"
                watchers.end(subscriber, PERF())
                return
            sends.append(PERF() - sent)
            socket = opened[index // context.per_socket]
            await socket.subscribe(str(index + 1), subscriber, stream_payload(answer_id))

        starting = asyncio.gather(*(start(index) for index in range(case.count)))
        finished = await wait_all(watchers, context.timeout, starting)
        usage.stop()
    subscribers = watchers.subscribers
    check = integrity(subscribers, context.prompt.answer, not SHARED)
    added, live = token_delays(subscribers, context.prompt, case.rate)
    return [
        *timeout_line(finished, watchers, context.timeout),
        f"  SENDMESSAGE latency ms p50/p99/max: {spread(sends)}",
        f"  ADDED PER TOKEN ms p50/p99/max: {spread(added)}",
        f"    tokens scheduled after the subscriber's 1st message: {spread(live)}",
        *integrity_lines(check),
        usage.per_answer_line(max(1, len(sends))),
        *usage.lines(sum(check.received)),
    ]


def token_delays(
    subscribers: list[Subscriber], prompt: Prompt, rate: int
) -> tuple[list[float], list[float]]:
    """Per token of each answer: when the delta carrying it arrived - when the mock model
    produced it. The mock streams token ``k`` at ``start + k / rate``; ``start`` is on the
    server's clock, so it is taken as the answer's smallest (arrival - k / rate): the figure
    is the delay beyond that of the answer's fastest token."""
    added: list[float] = []
    live: list[float] = []
    for subscriber in subscribers:
        arrivals = token_arrivals(subscriber, prompt.token_ends)
        if not arrivals:
            continue
        origin = min(at - index / rate for index, at in arrivals)
        for index, at in arrivals:
            delay = at - index / rate - origin
            added.append(delay)
            if origin + index / rate > subscriber.first_at:
                live.append(delay)
    return added, live


def token_arrivals(subscriber: Subscriber, token_ends: tuple[int, ...]) -> list[tuple[int, float]]:
    """(token index, arrival of the first delta whose text reaches that token's end)."""
    by_end = sorted((offset + len(text), at) for at, _, offset, text in subscriber.deltas)
    arrivals = []
    position = 0
    for index, end in enumerate(token_ends):
        while position < len(by_end) and by_end[position][0] < end:
            position += 1
        if position == len(by_end):
            break
        arrivals.append((index, by_end[position][1]))
    return arrivals


# --- running ------------------------------------------------------------------------------


def all_cases(quick: bool) -> list[Case]:
    if quick:
        one = [Case("one", n, rate, "memory") for rate in (200,) for n in (10, 100)]
        return [*one, Case("many", 50, 40, "memory")]
    cases = []
    for backend in ("memory", "redis"):
        for rate in (40, 200):
            cases += [Case("one", n, rate, backend) for n in (10, 100, 1000)]
        cases.append(Case("many", 1000, 40, backend))
    return cases


def chosen(cases: list[Case], patterns: str | None) -> list[Case]:
    if not patterns:
        return cases
    wanted = [pattern.strip() for pattern in patterns.split(",") if pattern.strip()]
    picked = [c for c in cases if any(fnmatch.fnmatch(c.name, p) for p in wanted)]
    for pattern in wanted:  # a name outside the grid, e.g. one-500-40-memory
        parts = pattern.split("-")
        if len(parts) == 4 and parts[0] in ("one", "many") and "*" not in pattern:
            case = Case(parts[0], int(parts[1]), int(parts[2]), parts[3])
            if case not in picked:
                picked.append(case)
    return picked


async def run_server_cases(
    args: argparse.Namespace, database_url: str, backend: str, rate: int, cases: list[Case]
) -> None:
    """Start a server for ``backend`` at ``rate`` tokens/s and run ``cases`` on it."""
    import httpx

    redis_url = args.redis if backend == "redis" else None
    with tempfile.TemporaryDirectory(prefix="synapse-fanout-") as data_dir:
        env = server_environment(database_url, redis_url, Path(data_dir), rate, args.pool_size)
        limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
        async with (
            server_process(env, Path(data_dir)) as server,
            httpx.AsyncClient(base_url=server.base_url, timeout=300, limits=limits) as http,
        ):
            api = Api(http, database_url)
            workspace_id = await api.sign_up()
            context = Context(
                server,
                api,
                workspace_id,
                prompt_with(args.tokens),
                args.per_socket,
                args.timeout,
                args.ramp,
            )
            for case in cases:
                await settle(server)
                print(f"\n{case.name}", flush=True)
                run = one_answer if case.kind == "one" else many_answers
                started = PERF()
                for line in await run(context, case):
                    print(line, flush=True)
                print(f"  (case took {PERF() - started:.1f} s)", flush=True)


async def measure(args: argparse.Namespace, database_url: str, cases: list[Case]) -> None:
    groups: dict[tuple[str, int], list[Case]] = {}
    for case in cases:
        groups.setdefault((case.backend, case.rate), []).append(case)
    for (backend, rate), group in groups.items():
        await run_server_cases(args, database_url, backend, rate, group)


def header(args: argparse.Namespace, database: str) -> str:
    prompt = prompt_with(args.tokens)
    return "\n".join(
        [
            "environment",
            f"  answer                 {len(prompt.token_ends)} tokens of the mock model"
            f" ({prompt.content!r})",
            f"  subscriptions/socket   {args.per_socket} (graphql-transport-ws, no compression)",
            f"  redis                  {args.redis} (cases '-redis')",
            f"  db pool size           {args.pool_size}",
            f"  database               {database}",
            f"  python / cpus          {platform.python_version()} / {os.cpu_count()}",
            f"  load average (1 min)   {os.getloadavg()[0]:.2f} at the start",
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stream_fanout",
        description="One answer to many subscribers, many answers at once (figures only).",
    )
    parser.add_argument("--cases", help="comma-separated case names or patterns (see --list)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--list", action="store_true", help="print the case names and exit")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7", help="for '-redis' cases")
    parser.add_argument("--timeout", type=float, default=120.0, help="per case, seconds (120)")
    parser.add_argument("--tokens", type=int, default=104, help="tokens per answer (104)")
    parser.add_argument("--per-socket", type=int, default=100, help="subscriptions per socket")
    parser.add_argument("--ramp", type=float, default=1.0, help="'many': sends spread over (s)")
    parser.add_argument("--pool-size", type=int, default=40, help="server's db pool (40)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from bench.stream_latency import bench_database

    args = parse_args(argv)
    cases = chosen(all_cases(args.quick), args.cases)
    if args.list or not cases:
        print("\n".join(case.name for case in all_cases(False)))
        return 0 if args.list else 2
    # SIGTERM unwinds like Ctrl-C: the server process and the embedded database are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        run = uvloop.run
    with bench_database() as (url, database):
        print(header(args, database), flush=True)
        started = PERF()
        run(measure(args, url, cases))
    print(f"\n(measured in {PERF() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
