"""What the call pipeline adds to a streamed answer, beside a direct SDK call in the same run.

    python -m bench.pipeline_overhead [--rounds 20] [--warmup 2] [--tokens 100]
                                      [--token-interval-ms 5] [--redis URL]

One process, one event loop, one clock (see ``bench/stream_latency.py``, whose loopback
provider, client and set-up this reuses). Every round runs, in a shuffled order:

* **direct**: the ``openai`` SDK streams the same prompt from the same loopback provider;
* **budget**: ``sendMessage`` in a workspace with a hard-stop budget that covers the call
  (so the call reserves and settles), ``conversationEvents`` opened before the mutation;
* **no budget**: the same in a workspace without a budget.

Figures (``bench/README.md`` says what each line is): time to first token beyond the
mutation's response, per-token delivery, process CPU time per request, and the mutation
round trip with and without the reservation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from bench.stream_latency import (
    PERF,
    STAMPS,
    Client,
    GraphQLSocket,
    LoopbackOpenAI,
    ProviderCall,
    ServerStamps,
    arrange,
    bench_database,
    bench_settings,
    collect,
    instrument_server,
    ms,
    percentile,
)

PROMPT = "Count, please."
KINDS = ("direct", "budget", "no budget")
# Reservations made by generations of the bench (to show every budgeted call reserved).
RESERVED: dict[Any, bool] = {}


def instrument_reservations() -> None:
    """Note, per answer, whether its plan holds a budget reservation."""
    from synapse_gql.chat.runner import Generation

    call = Generation.__call__

    async def noted(self: Generation, *args: Any, **kwargs: Any) -> Any:
        RESERVED[self.job.message_id] = self.job.plan.reservation_id is not None
        return await call(self, *args, **kwargs)

    Generation.__call__ = noted  # type: ignore[method-assign]


@dataclass
class Sample:
    """One request of any kind: what the client saw and what the provider did."""

    kind: str
    started: float  # the SDK call or the mutation was sent
    returned: float  # the mutation's response (the call's start for the direct SDK)
    call: ProviderCall
    received: list[tuple[float, int]]  # (client receive time, end offset of the text)
    cpu: float  # process CPU seconds from the send to the end of the answer
    server: ServerStamps = field(default_factory=ServerStamps)
    reserved: bool = False

    def first_token_added(self) -> float:
        """Pre-call time after the mutation returned, plus first chunk -> client."""
        pre_call = max(0.0, self.call.received - self.returned)
        return pre_call + (self.received[0][0] - self.call.writes[0])

    def per_token(self) -> list[float]:
        """For each chunk: the receive time of the first delivery covering it - its write."""
        out, index, end = [], 0, 0
        for text, written in zip(self.call.texts, self.call.writes, strict=True):
            end += len(text)
            while index < len(self.received) and self.received[index][1] < end:
                index += 1
            if index == len(self.received):
                break
            out.append(self.received[index][0] - written)
        return out


async def direct(client: Any, provider: LoopbackOpenAI, model: str) -> Sample:
    """The floor: the ``openai`` SDK streaming the same prompt from the same provider."""
    received: list[tuple[float, int]] = []
    offset = 0
    cpu, started = time.process_time(), PERF()
    stream = await client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            offset += len(chunk.choices[0].delta.content)
            received.append((PERF(), offset))
    cpu = time.process_time() - cpu
    return Sample("direct", started, started, provider.calls[-1], received, cpu)


@dataclass
class Target:
    """What the server runs use: the client, the socket and a workspace."""

    gql: Client
    socket: GraphQLSocket
    app: Any
    provider: LoopbackOpenAI
    token: str
    model_id: str


async def through_server(target: Target, kind: str, workspace_id: str) -> Sample:
    """``sendMessage`` with ``conversationEvents`` opened before it."""
    from synapse_gql.gql.relay import from_global_id

    gql, token = target.gql, target.token
    created = await gql.op(
        "CreateConversation", token, input={"workspaceId": workspace_id, "title": "bench"}
    )
    conversation = created["createConversation"]["id"]
    op_id, queue = await target.socket.subscribe("ConversationEvents", conversationId=conversation)
    await asyncio.sleep(0.05)  # the subscription is live before the send
    given = {"conversationId": conversation, "content": PROMPT, "model": target.model_id}
    cpu, sent = time.process_time(), PERF()
    payload = (await gql.op("SendMessage", token, input=given))["sendMessage"]
    returned = PERF()
    if payload["__typename"] != "ChatTurn":
        raise RuntimeError(f"sendMessage failed: {payload}")
    answer = from_global_id(payload["assistantMessage"]["id"], "Message")[1]
    deltas, end = await collect(queue, "conversationEvents")
    await target.app.state.synapse.generations.wait(answer)
    cpu = time.process_time() - cpu
    await target.socket.stop(op_id)
    if end["message"]["status"] != "COMPLETED":
        raise RuntimeError(f"the answer is {end['message']['status']}")
    received = [(d.at, d.end) for d in sorted(deltas, key=lambda d: d.offset)]
    sample = Sample(kind, sent, returned, target.provider.calls[-1], received, cpu)
    sample.server = STAMPS.pop(answer, ServerStamps())
    sample.reserved = RESERVED.pop(answer, False)
    return sample


def stats(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), percentile(values, 0.95), max(values)


def row(label: str, values: list[float], scale: float = 1000.0) -> str:
    if not values:
        return f"  {label:<50}   (no data)"
    cells = "".join(f"{c * scale:9.3f}" for c in stats(values))
    return f"  {label:<50}{cells}   (n={len(values)})"


def ratio(label: str, values: list[float], floor: list[float]) -> str:
    server, direct_ = statistics.median(values), statistics.median(floor)
    return f"  {label:<50}{server / direct_:9.2f}x  (medians)"


def report(samples: dict[str, list[Sample]], environment: dict[str, str]) -> str:
    floor = samples["direct"]
    d_first = [s.first_token_added() for s in floor]
    d_token = [t for s in floor for t in s.per_token()]
    d_token_median = statistics.median(d_token)
    head = f"{'median':>9}{'p95':>9}{'max':>9}"
    lines = ["environment", *(f"  {k:<22} {v}" for k, v in environment.items()), ""]
    lines += [f"first token (ms)                                    {head}"]
    lines.append(row("direct SDK: call sent -> 1st chunk received", d_first))
    for kind in ("budget", "no budget"):
        runs = samples[kind]
        added = [s.first_token_added() for s in runs]
        lines += [
            f" server, {kind}:",
            row("  mutation round trip (sendMessage)", [s.returned - s.started for s in runs]),
            row(
                "  pre-call after the mutation returned",
                [max(0.0, s.call.received - s.returned) for s in runs],
            ),
            row(
                "  1st chunk written -> 1st delta received",
                [s.received[0][0] - s.call.writes[0] for s in runs],
            ),
            row(
                "  prompt built (history) -> provider request",
                [s.call.received - s.server.prompted for s in runs],
            ),
            row(
                "  ADDED BEYOND THE MUTATION (sum - direct med.)",
                [a - statistics.median(d_first) for a in added],
            ),
        ]
    lines += ["", f"per token (ms), pooled                              {head}"]
    lines.append(row("direct SDK: chunk written -> chunk received", d_token))
    for kind in ("budget", "no budget"):
        tokens = [t for s in samples[kind] for t in s.per_token()]
        lines.append(row(f"server, {kind}: chunk written -> delta received", tokens))
        lines.append(
            row("  ADDED PER TOKEN (minus the direct median)", [t - d_token_median for t in tokens])
        )
    lines += ["", f"CPU time per request (ms, whole process)           {head}"]
    d_cpu = [s.cpu for s in floor]
    lines.append(row("direct SDK", d_cpu))
    for kind in ("budget", "no budget"):
        cpu = [s.cpu for s in samples[kind]]
        lines += [row(f"server, {kind}", cpu), ratio("  ratio to the direct SDK", cpu, d_cpu)]
    budget = [s.returned - s.started for s in samples["budget"]]
    free = [s.returned - s.started for s in samples["no budget"]]
    lines += [
        "",
        "reservation on sendMessage (ms)                       median      p95",
        f"  with a covering budget - without{'':<18}"
        f"{ms(statistics.median(budget) - statistics.median(free)):9.3f}"
        f"{ms(percentile(budget, 0.95) - percentile(free, 0.95)):9.3f}",
        f"  budgeted answers that reserved: {sum(s.reserved for s in samples['budget'])}"
        f"/{len(samples['budget'])}; unbudgeted that reserved:"
        f" {sum(s.reserved for s in samples['no budget'])}/{len(samples['no budget'])}",
    ]
    return "\n".join(lines)


async def set_budget(gql: Client, token: str, workspace_id: str) -> None:
    """A hard-stop workspace budget far above what the bench spends (every call fits)."""
    given = {"workspaceId": workspace_id, "limit": "1000000", "hardStop": True}
    result = (await gql.op("SetBudget", token, input=given))["setBudget"]
    if result["__typename"] != "Budget":
        raise RuntimeError(f"setBudget failed: {result}")


async def measure(args: argparse.Namespace, database_url: str) -> dict[str, list[Sample]]:
    import httpx
    import openai

    from synapse_gql.app import create_app
    from tests.live import serve

    instrument_server()
    instrument_reservations()
    samples: dict[str, list[Sample]] = {kind: [] for kind in KINDS}
    async with contextlib.AsyncExitStack() as stack:
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="synapse-bench-"))
        interval = args.token_interval_ms / 1000.0
        provider = await stack.enter_async_context(LoopbackOpenAI(args.tokens, interval))
        settings = bench_settings(database_url, args.redis, provider.base_url, data_dir)
        app = create_app(settings)
        await stack.enter_async_context(app.router.lifespan_context(app))
        address = await stack.enter_async_context(serve(app))
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=f"http://{address}", timeout=60)
        )
        gql = Client(http)
        token, budgeted, model_id = await arrange(gql)
        free = (await gql.op("CreateWorkspace", token, input={"name": "Free"}))["createWorkspace"]
        await set_budget(gql, token, budgeted)
        socket = await stack.enter_async_context(
            GraphQLSocket.connect(f"ws://{address}/graphql", token)
        )
        sdk = openai.AsyncOpenAI(base_url=provider.base_url, api_key="sk-bench", max_retries=0)
        target = Target(gql, socket, app, provider, token, model_id)
        workspaces = {"budget": budgeted, "no budget": free["id"]}
        shuffle = random.Random(7)
        for index in range(args.warmup + args.rounds):
            order = list(KINDS)
            shuffle.shuffle(order)
            for kind in order:
                if kind == "direct":
                    sample = await direct(sdk, provider, "gpt-4o-mini")
                else:
                    sample = await through_server(target, kind, workspaces[kind])
                if index >= args.warmup:
                    samples[kind].append(sample)
        await sdk.close()
        await asyncio.sleep(0.2)
    return samples


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline_overhead",
        description="What the call pipeline adds beside a direct SDK call (figures only).",
    )
    parser.add_argument("--rounds", type=int, default=20, help="measured rounds (default 20)")
    parser.add_argument("--warmup", type=int, default=2, help="excluded rounds first (2)")
    parser.add_argument("--tokens", type=int, default=100, help="chunks per answer (100)")
    parser.add_argument("--token-interval-ms", type=float, default=5.0, help="(default 5)")
    parser.add_argument("--redis", default=None, help="Redis URL for realtime (default memory)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.tokens < 1 or args.warmup < 0 or args.token_interval_ms < 0:
        parser.error("--rounds and --tokens must be positive, the others not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        import uvloop

        run, loop = uvloop.run, "uvloop"
    except ImportError:
        run, loop = asyncio.run, "asyncio"
    load = os.getloadavg()[0]
    with bench_database() as (url, database):
        started = PERF()
        samples = run(measure(args, url))
        elapsed = PERF() - started
    environment = {
        "realtime": f"Redis {args.redis}" if args.redis else "in-process (memory)",
        "rounds (+ warm-up)": f"{args.rounds} (+ {args.warmup}), kinds shuffled per round",
        "tokens per answer": f"{args.tokens}, every {args.token_interval_ms:g} ms",
        "event loop / python": f"{loop} / {platform.python_version()}, {os.cpu_count()} cpus",
        "database": database,
        "load average (1 min)": f"{load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end",
        "gc objects": str(len(gc.get_objects())),
    }
    print(report(samples, environment))
    print(f"\n(measured in {elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
