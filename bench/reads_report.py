"""What ``bench.reads`` prints: the environment, then per read and target the CPU per
request, latency and throughput, and the CPU ratio of this server to PostGraphile (and to
the floor) in each round with its spread, then one summary table."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
from pathlib import Path

import asyncpg

from bench.reads_data import BenchData
from bench.reads_measure import Sample

OURS, THEIRS, FLOOR = "synapse-gql", "postgraphile", "floor"


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _node_version(node: Path | None) -> str:
    if node is None:
        return "-"
    return subprocess.run([str(node), "--version"], capture_output=True, text=True).stdout.strip()


def _postgraphile_version(directory: Path, node: Path | None) -> str:
    package = directory / "node_modules/postgraphile/package.json"
    if node is None or not package.exists():
        return "not installed"
    return str(json.loads(package.read_text())["version"])


async def environment(
    args: argparse.Namespace, data: BenchData, pool: asyncpg.Pool, node: Path | None
) -> str:
    """The conditions of the run, printed before the figures."""
    size = data.size
    server = await pool.fetchval("SHOW server_version")
    lines = [
        "environment",
        f"  data                  {size.workspaces} workspaces x {size.conversations}"
        f" conversations x {size.messages} messages; {size.usage_rows} usage rows in a month",
        f"  rounds                {args.rounds}, {args.seconds} s per phase"
        f" (at least {args.min_requests} requests), {args.connections} connections",
        f"  this server from      {args.server_source or 'the installed package'}",
        f"  servers pinned to     core {args.core} of {os.cpu_count()} (taskset)",
        f"  python / node         {platform.python_version()} / {_node_version(node)}",
        f"  postgraphile          {_postgraphile_version(args.postgraphile_dir, node)}",
        f"  postgresql            {server}",
        f"  load average (1 min)  {os.getloadavg()[0]:.2f} at the start",
    ]
    return "\n".join(lines)


def _spread(values: list[float]) -> str:
    rounds = " ".join(f"{v:.1f}" for v in values)
    median = statistics.median(values)
    return f"{rounds}  (median {median:.1f}x, {min(values):.1f}-{max(values):.1f})"


def _ratios(samples: dict[str, list[Sample]], over: str) -> list[float]:
    pairs = zip(samples[OURS], samples[over], strict=True)
    return [ours.cpu_ms / other.cpu_ms for ours, other in pairs if other.cpu_ms > 0]


def _figures(runs: list[Sample]) -> tuple[float, float, float, float, float]:
    latencies = [ms for run in runs for ms in run.latencies_ms]
    cpu = statistics.median(run.cpu_ms for run in runs)
    per_second = statistics.median(run.per_second for run in runs)
    cpu_many = statistics.median(run.cpu_ms_many for run in runs)
    return cpu, percentile(latencies, 0.5), percentile(latencies, 0.99), per_second, cpu_many


def _read_block(name: str, samples: dict[str, list[Sample]], connections: int) -> list[str]:
    many = f"@{connections}"
    lines = [
        f"{name:<28}{'CPU ms/req':>11}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'req/s ' + many:>11}{'CPU ms/req ' + many:>15}"
    ]
    for target, runs in samples.items():
        cpu, p50, p99, per_second, cpu_many = _figures(runs)
        figures = f"{cpu:>11.2f}{p50:>9.2f}{p99:>9.2f}{per_second:>11.1f}{cpu_many:>15.2f}"
        lines.append(f"  {target:<26}{figures}")
    for other in (THEIRS, FLOOR):
        if other in samples and (ratios := _ratios(samples, other)):
            lines.append(f"  CPU {OURS}/{other} per round: {_spread(ratios)}")
    return lines


def _table(samples: dict[str, dict[str, list[Sample]]], targets: list[str]) -> list[str]:
    header = "| read | " + " | ".join(f"{t} CPU ms (p50 ms)" for t in targets)
    header += " | CPU ratio to postgraphile (spread) |" if THEIRS in targets else " |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for name, by_target in samples.items():
        cells = []
        for target in targets:
            cpu, p50, *_ = _figures(by_target[target])
            cells.append(f"{cpu:.2f} ({p50:.2f})")
        row = f"| {name} | " + " | ".join(cells)
        if THEIRS in targets:
            ratios = _ratios(by_target, THEIRS)
            row += f" | {statistics.median(ratios):.1f}x ({min(ratios):.1f}-{max(ratios):.1f}) |"
        lines.append(row + ("" if THEIRS in targets else " |"))
    return lines


def report(
    samples: dict[str, dict[str, list[Sample]]], targets: list[str], connections: int
) -> str:
    """The figures of every read, then the summary table (markdown)."""
    lines: list[str] = [""]
    for name, by_target in samples.items():
        lines += [*_read_block(name, by_target, connections), ""]
    lines += ["summary (medians over rounds; p50 pooled over rounds)", *_table(samples, targets)]
    return "\n".join(lines)
