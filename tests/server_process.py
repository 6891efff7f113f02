"""The app as a real server process: ``python -m synapse_gql.serving`` (uvicorn, as served).

Several of them on one database and one Redis behave like the workers of a deployment:
each has its own generations, broadcaster and sweeper, and they meet only through
PostgreSQL and Redis. The process is configured by environment variables only (the way
``app_from_env`` reads them), logs to files under the test's directory (a pipe nobody
reads could fill up and block it), and its log is printed when the test fails.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from synapse_gql.config import Settings
from tests.gql_client import GraphQLClient
from tests.live import free_port

START_TIMEOUT_SECONDS = 90  # a loaded 2-core machine imports the app slowly
STOP_TIMEOUT_SECONDS = 30.0
# Variables of the runner's environment that would configure the child behind our back.
_OWN_VARIABLES = ("DATABASE_URL", "REDIS_URL")


@dataclass
class ServerProcess:
    """A running server: its process, addresses, a GraphQL client and its log file."""

    name: str
    process: asyncio.subprocess.Process
    base_url: str
    ws_url: str
    gql: GraphQLClient
    log_path: Path

    def log(self) -> str:
        """What the process wrote to stdout and stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


# The test settings' generous limits, carried to server processes: their counters live in
# the shared Redis, where every test (and every run) signs up from the same address.
TEST_LIMITS = (
    "registrations_per_address_per_hour",
    "rate_limit_anonymous_points",
    "rate_limit_user_points",
    "rate_limit_api_token_points",
    "rate_limit_model_calls",
    "request_wait_seconds",
)


def server_env(
    settings: Settings, redis_url: str, data_dir: Path, **settings_env: Any
) -> dict[str, str]:
    """The environment of a server process: the test's database, secret and Redis, and
    ``SYNAPSE_<NAME>`` for each keyword (``mock_tokens_per_second=5`` ->
    ``SYNAPSE_MOCK_TOKENS_PER_SECOND=5``)."""
    assert settings.database_url
    assert settings.secret_key is not None
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SYNAPSE_") and key not in _OWN_VARIABLES
    }
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=redis_url,
        SYNAPSE_SECRET_KEY=settings.secret_key.get_secret_value(),
        SYNAPSE_DATA_DIR=str(data_dir),
        SYNAPSE_DB_POOL_SIZE=str(settings.db_pool_size),
        SYNAPSE_LOG_LEVEL="warning",
        PYTHONUNBUFFERED="1",
    )
    lenient = {name: getattr(settings, name) for name in TEST_LIMITS}
    for name, value in {**lenient, **settings_env}.items():
        env[f"SYNAPSE_{name.upper()}"] = str(value)
    return env


async def _wait_healthy(server: ServerProcess, http: httpx.AsyncClient) -> None:
    async with asyncio.timeout(START_TIMEOUT_SECONDS):
        while True:
            if server.process.returncode is not None:
                raise RuntimeError(f"server {server.name} exited with {server.process.returncode}")
            try:
                response = await http.get("/health")
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


async def _terminate(process: asyncio.subprocess.Process) -> int:
    """SIGTERM (uvicorn's graceful shutdown, lifespan included), then wait; SIGKILL when
    it does not exit in time. The exit code."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_TIMEOUT_SECONDS):
                return await process.wait()
        except TimeoutError:
            process.kill()
    return await process.wait()


def _open_log(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("wb")


@asynccontextmanager
async def server_process(
    settings: Settings,
    redis_url: str,
    data_dir: Path,
    name: str = "server",
    **settings_env: Any,
) -> AsyncIterator[ServerProcess]:
    """A server process on a free loopback port, up (``/health`` answers) on entry,
    terminated and waited for on exit. Its log is printed when the block fails, or when
    it does not start."""
    log_path = data_dir / f"{name}.log"
    log_file = await asyncio.to_thread(_open_log, log_path)
    port = free_port()
    with log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "synapse_gql.serving",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            env=server_env(settings, redis_url, data_dir, **settings_env),
            cwd=str(data_dir),  # no stray .env file is read
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    shown = False
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            server = ServerProcess(
                name,
                process,
                base_url,
                f"ws://127.0.0.1:{port}/graphql",
                GraphQLClient(http),
                log_path,
            )
            try:
                await _wait_healthy(server, http)
                yield server
            except BaseException:
                shown = True
                print(f"----- log of server process {name} (pid {process.pid}) -----")
                print(server.log())
                raise
    finally:
        code = await _terminate(process)
        if code not in (0, -signal.SIGTERM) and not shown:
            print(f"----- server process {name} exited with {code} -----")
            print(log_path.read_text(errors="replace"))


@asynccontextmanager
async def server_processes(
    settings: Settings, redis_url: str, data_dir: Path, servers: dict[str, dict[str, Any]]
) -> AsyncIterator[list[ServerProcess]]:
    """One :func:`server_process` per name of ``servers`` (with its settings), started
    in parallel, all stopped on exit; in the order of ``servers``."""
    async with AsyncExitStack() as stack:
        started = await asyncio.gather(
            *(
                stack.enter_async_context(
                    server_process(settings, redis_url, data_dir / name, name, **options)
                )
                for name, options in servers.items()
            ),
            return_exceptions=True,
        )
        for result in started:
            if isinstance(result, BaseException):
                raise result
        yield [result for result in started if isinstance(result, ServerProcess)]
