"""The figures of ``bench.stream_latency``: each answer through the server beside the direct
SDK call of the same round, and the printed report (``bench/README.md`` explains each line).
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field

from bench.stream_latency import ProviderCall, Received, ServerStamps, ms, percentile


@dataclass
class DirectRun:
    """The ``openai`` SDK streaming from the loopback provider in the client process."""

    sent: float
    received: list[tuple[float, int]]  # (receive time, end offset of the text so far)
    provider: ProviderCall
    cpu: float  # client process CPU seconds for the call

    def ttft(self) -> float:
        return self.received[0][0] - self.sent

    def per_token(self) -> list[float]:
        """For each chunk: when the SDK handed it over - when the provider wrote it."""
        return [
            at - written
            for (at, _), written in zip(self.received, self.provider.writes, strict=True)
        ]


@dataclass
class Run:
    """One answer through the server: the client's, the provider's and the server's stamps."""

    sent: float
    returned: float
    subscribed: float
    deltas: list[Received]
    provider: ProviderCall
    server: ServerStamps
    status: str
    content: str
    reserved: bool = False
    server_cpu: float = 0.0  # server process CPU seconds from the send to the answer's end
    client_cpu: float = 0.0

    @property
    def first_delta(self) -> float:
        return self.deltas[0].at

    def per_token(self) -> list[tuple[int, float, float]]:
        """(chunk index, chunk written, its delta received) for each chunk: the delta that
        holds the chunk's last character (deltas are matched by character offsets)."""
        ends = itertools.accumulate(len(text) for text in self.provider.texts)
        by_end = sorted(self.deltas, key=lambda d: d.end)
        out, position = [], 0
        for index, (end, written) in enumerate(zip(ends, self.provider.writes, strict=True)):
            while position < len(by_end) and by_end[position].end < end:
                position += 1
            if position == len(by_end):
                break
            out.append((index, written, by_end[position].at))
        return out


@dataclass
class Figures:
    """Per-answer and per-token figures (seconds), pooled over the measured rounds."""

    rounds: int = 0
    mutation: list[float] = field(default_factory=list)
    after_mutation: list[float] = field(default_factory=list)
    direct_ttft: list[float] = field(default_factory=list)
    added_ttft: list[float] = field(default_factory=list)
    first_delivery: list[float] = field(default_factory=list)
    direct_first_delivery: list[float] = field(default_factory=list)
    added_first_delivery: list[float] = field(default_factory=list)
    to_generation: list[float] = field(default_factory=list)
    prompt: list[float] = field(default_factory=list)
    sdk_request: list[float] = field(default_factory=list)
    called_after_response: list[float] = field(default_factory=list)
    subscribe_to_first: list[float] = field(default_factory=list)
    caught_up: int = 0
    per_token: list[float] = field(default_factory=list)
    direct_per_token: list[float] = field(default_factory=list)
    added_per_token: list[float] = field(default_factory=list)
    added_live: list[float] = field(default_factory=list)
    server_sdk: list[float] = field(default_factory=list)
    pump_wait: list[float] = field(default_factory=list)
    send: list[float] = field(default_factory=list)
    to_client: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)
    direct_cpu: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    deltas: list[int] = field(default_factory=list)
    reserved: int = 0
    text_mismatches: int = 0
    gc_pauses: list[tuple[int, float]] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)

    def add(self, run: Run, direct: DirectRun) -> None:
        """One round: the answer through the server and the direct call beside it."""
        call = run.provider
        if not run.deltas or not call.writes or not direct.received:
            raise RuntimeError(f"an answer without deltas or chunks (status {run.status})")
        streamed = "".join(d.text for d in sorted(run.deltas, key=lambda d: d.offset))
        if streamed != "".join(call.texts) or run.content != streamed:
            self.text_mismatches += 1
        self.rounds += 1
        self.reserved += run.reserved
        self._first_token(run, direct)
        self._per_token(run, direct)
        self.server_cpu.append(run.server_cpu)
        self.client_cpu.append(run.client_cpu)
        self.direct_cpu.append(direct.cpu)
        self.tokens.append(len(call.writes))
        self.deltas.append(len(run.deltas))

    def _first_token(self, run: Run, direct: DirectRun) -> None:
        call, server, first = run.provider, run.server, run.first_delta
        self.mutation.append(run.returned - run.sent)
        self.after_mutation.append(first - run.returned)
        self.direct_ttft.append(direct.ttft())
        self.added_ttft.append(self.after_mutation[-1] - direct.ttft())
        self.first_delivery.append(first - call.writes[0])
        self.direct_first_delivery.append(direct.per_token()[0])
        self.added_first_delivery.append(self.first_delivery[-1] - direct.per_token()[0])
        self.to_generation.append(server.started - run.sent)
        self.prompt.append(server.prompted - server.started)
        self.sdk_request.append(call.received - server.prompted)
        self.called_after_response.append(call.received - run.returned)
        self.subscribe_to_first.append(first - run.subscribed)
        self.caught_up += call.writes[0] < run.subscribed

    def _per_token(self, run: Run, direct: DirectRun) -> None:
        direct_tokens = direct.per_token()
        pushes, sends = run.server.pushes, run.server.sends
        send_ends = [end for end, _, _ in sends]
        ends = list(itertools.accumulate(len(text) for text in run.provider.texts))
        send_index = 0
        for index, written, received in run.per_token():
            ours = received - written
            self.per_token.append(ours)
            if index < len(direct_tokens):
                self.direct_per_token.append(direct_tokens[index])
                self.added_per_token.append(ours - direct_tokens[index])
                if written >= run.first_delta:
                    self.added_live.append(ours - direct_tokens[index])
            if index >= len(pushes):
                continue
            self.server_sdk.append(pushes[index] - written)
            while send_index < len(sends) and send_ends[send_index] < ends[index]:
                send_index += 1
            if send_index < len(sends):
                _, started, done = sends[send_index]
                self.pump_wait.append(started - pushes[index])
                if send_ends[send_index] == ends[index]:  # each delta once, at its last chunk
                    self.send.append(done - started)
                    if written >= run.first_delta:
                        self.to_client.append(received - done)


HEAD = f"{'median':>8}{'p95':>8}{'max':>8}"


def row(label: str, values: list[float]) -> str:
    if not values:
        return f"  {label:<52}   (no data)"
    cells = [statistics.median(values), percentile(values, 0.95), max(values)]
    return f"  {label:<52}{''.join(f'{ms(c):8.2f}' for c in cells)}   (n={len(values)})"


def gc_lines(pauses: list[tuple[int, float]]) -> list[str]:
    """One line per collected generation: how many, longest, total."""
    lines = []
    for generation in sorted({g for g, _ in pauses}):
        taken = [seconds for g, seconds in pauses if g == generation]
        lines.append(
            f"  server garbage collections of generation {generation}: {len(taken)}, longest"
            f" {ms(max(taken)):.2f} ms, total {ms(sum(taken)):.1f} ms"
        )
    return lines or ["  no garbage collection in the server"]


def report(f: Figures, environment: dict[str, str]) -> str:
    lines = ["environment", *(f"  {name:<22} {value}" for name, value in environment.items())]
    tokens = sum(f.tokens)
    lines += [
        "",
        f"first token, per round (ms)                           {HEAD}",
        row("mutation round trip (sendMessage)", f.mutation),
        row("mutation response received -> 1st delta received", f.after_mutation),
        row("direct SDK: request sent -> 1st chunk received", f.direct_ttft),
        row("ADDED BEYOND THE MUTATION (the two above, paired)", f.added_ttft),
        row("1st chunk written -> 1st delta received", f.first_delivery),
        row("direct SDK: 1st chunk written -> received", f.direct_first_delivery),
        row("ADDED TO THE 1ST CHUNK'S DELIVERY (paired)", f.added_first_delivery),
        row("  mutation sent -> generation task starts", f.to_generation),
        row("  building the prompt (history query)", f.prompt),
        row("  prompt built -> provider request read", f.sdk_request),
        row("  mutation response -> provider request read", f.called_after_response),
        row("  subscribe sent -> 1st delta received", f.subscribe_to_first),
        f"  rounds whose 1st chunk was written before the subscribe was sent: {f.caught_up}"
        f"/{f.rounds}",
        "",
        f"per token, pooled over rounds (ms)                    {HEAD}",
        row("chunk written -> its delta received", f.per_token),
        row("direct SDK: chunk written -> chunk received", f.direct_per_token),
        row("ADDED PER TOKEN (the two above, paired per chunk)", f.added_per_token),
        row("  live only (chunks written after the 1st delta)", f.added_live),
        row("  chunk written -> server has the token (its SDK)", f.server_sdk),
        row("  token -> its delta's send starts", f.pump_wait),
        row("  delta send (log append + publish)", f.send),
        row("  send returned -> client has it (live)", f.to_client),
        "",
        "CPU time (ms)                                             per answer   per token",
        _cpu("server process, through the server", f.server_cpu, tokens),
        _cpu("client process, through the server", f.client_cpu, tokens),
        _cpu("client process, direct SDK call", f.direct_cpu, tokens),
        "",
        f"deltas per answer (mean): {statistics.mean(f.deltas):.1f} for"
        f" {statistics.mean(f.tokens):.0f} chunks",
        f"answers whose call held a budget reservation: {f.reserved}/{f.rounds}",
        f"answers whose streamed text differs from the provider's: {f.text_mismatches}",
        "",
        f"server stalls during the measured rounds (ms)         {HEAD}",
        row("event-loop lag (10 ms timer fired late by)", f.lags),
        *gc_lines(f.gc_pauses),
    ]
    return "\n".join(lines)


def _cpu(label: str, seconds: list[float], tokens: int) -> str:
    total = sum(seconds)
    return f"  {label:<52}{ms(total / len(seconds)):10.2f}{ms(total / tokens):12.3f}"
