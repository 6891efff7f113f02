"""The two servers of ``bench.reads``, each a real process pinned to one core, and their
CPU time read from ``/proc/<pid>/stat``.

- this server: ``python -m synapse_gql.cli serve --no-migrate`` (one process: uvicorn runs
  in it with one worker), limits raised so that no read is refused, log level warning;
- PostGraphile v5 (amber preset) from ``--postgraphile-dir``, with the node binary of the
  ``node`` npm package when it is there (else the machine's ``node``), as the database's
  superuser, with the ``graphile.config.mjs`` written here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.processes import stop_process
from tests.live import free_port

START_SECONDS = 90.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Nothing a read of the bench asks for may be refused or throttled.
OUR_LIMITS = {
    "SYNAPSE_MAX_QUERY_COST": "1000000000",
    "SYNAPSE_MAX_QUERY_TOKENS": "100000",
    "SYNAPSE_MAX_QUERY_DEPTH": "50",
    "SYNAPSE_RATE_LIMIT_USER_POINTS": "1000000000000",
    "SYNAPSE_RATE_LIMIT_ANONYMOUS_POINTS": "1000000000000",
}

POSTGRAPHILE_CONFIG = """\
// Written by bench.reads: PostGraphile v5, amber preset, no GraphiQL, no watch mode.
// PgIndexBehaviorsPlugin is off so that every column can be ordered by (the bench orders
// workspaces by created_at, which has no index of its own).
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

export default {
  extends: [PostGraphileAmberPreset],
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [
    makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["public"] }),
  ],
  grafserv: { host: "127.0.0.1", port: Number(process.env.PORT), graphiql: false, watch: false },
  grafast: { explain: false },
};
"""


@dataclass
class Server:
    """A running server process and where it answers GraphQL."""

    name: str
    process: asyncio.subprocess.Process
    url: str
    headers: dict[str, str]

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the process so far (all its threads)."""
        return process_cpu_seconds(self.process.pid)


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` from ``/proc/<pid>/stat``, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def pinned(command: list[str], core: int | None) -> list[str]:
    """``command`` under ``taskset -c core`` when taskset exists and a core is given."""
    if core is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", str(core), *command]


def postgraphile_node(directory: Path) -> Path | None:
    """The node binary to run PostGraphile with, or None when either is missing.

    PostGraphile 5.1 needs node 22 (on node 20 its queries fail): the ``node`` npm
    package's binary, else the machine's ``node`` when it is 22 or later."""
    if not (directory / "node_modules/postgraphile/dist/cli-run.js").exists():
        return None
    bundled = directory / "node_modules/node/bin/node"
    if bundled.exists():
        return bundled
    found = shutil.which("node")
    if found is None:
        return None
    version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
    major = version.strip().lstrip("v").split(".")[0]
    return Path(found) if major.isdigit() and int(major) >= 22 else None


async def _wait_ready(server: Server, probe: dict[str, str]) -> None:
    async with httpx.AsyncClient(timeout=10) as http, asyncio.timeout(START_SECONDS):
        while server.process.returncode is None:
            try:
                answer = await http.post(server.url, json=probe, headers=server.headers)
                if answer.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{server.name} exited with {server.process.returncode}")


@asynccontextmanager
async def _running(
    name: str, command: list[str], env: dict[str, str], work_dir: Path, headers: dict[str, str]
) -> AsyncIterator[Server]:
    port = free_port()
    env = {**env, "PORT": str(port), "SYNAPSE_PORT": str(port)}
    log = (work_dir / f"{name}.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        *command, env=env, cwd=str(work_dir), stdout=log, stderr=asyncio.subprocess.STDOUT
    )
    server = Server(name, process, f"http://127.0.0.1:{port}/graphql", headers)
    try:
        await _wait_ready(server, {"query": "{ __typename }"})
        yield server
    finally:
        await stop_process(process)
        log.close()


def _base_env() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SYNAPSE_") and key not in ("DATABASE_URL", "REDIS_URL")
    }


@asynccontextmanager
async def our_server(
    database_url: str,
    secret: str,
    token: str,
    work_dir: Path,
    core: int | None,
    source: Path | None = None,
) -> AsyncIterator[Server]:
    """This server on ``database_url``, answering requests with ``token``; imported from
    the source tree ``source`` (an export of a commit, say) when given, else as installed."""
    env = _base_env()
    if source is not None:
        env["PYTHONPATH"] = str(source)
    env.update(
        OUR_LIMITS,
        SYNAPSE_DATABASE_URL=database_url,
        SYNAPSE_SECRET_KEY=secret,
        SYNAPSE_DATA_DIR=str(work_dir),
        SYNAPSE_LOG_LEVEL="warning",
        SYNAPSE_GRAPHIQL="false",
    )
    command = [sys.executable, "-m", "synapse_gql.cli", "serve", "--no-migrate"]
    command += ["--host", "127.0.0.1"]
    headers = {"Authorization": f"Bearer {token}"}
    async with _running("synapse-gql", pinned(command, core), env, work_dir, headers) as server:
        yield server


@asynccontextmanager
async def postgraphile(
    database_url: str, directory: Path, node: Path, core: int | None
) -> AsyncIterator[Server]:
    """PostGraphile v5 (amber) from ``directory`` on ``database_url``."""
    config = directory / "graphile.config.mjs"
    config.write_text(POSTGRAPHILE_CONFIG)
    env = _base_env()
    env.update(DATABASE_URL=database_url, NODE_ENV="production")
    cli = directory / "node_modules/postgraphile/dist/cli-run.js"
    command = [str(node), str(cli), "-C", str(config)]
    async with _running("postgraphile", pinned(command, core), env, directory, {}) as server:
        yield server
