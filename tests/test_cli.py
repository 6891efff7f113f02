"""The console script, run as a real process against a real socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from synapse_gql.demo import DEMO_EMAIL, DEMO_PASSWORD
from tests.gql_client import operation_documents

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "synapse_gql.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNAPSE_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


class Server:
    """``synapse-gql serve --demo`` on a free port, with its own data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = _clean_env(SYNAPSE_DATA_DIR=str(data_dir), SYNAPSE_LOG_LEVEL="warning")
        self.process = subprocess.Popen(
            [*CLI, "serve", "--demo", "--port", str(self.port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._wait_until_healthy()

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.process.stdout.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.3)
        raise AssertionError("server did not become healthy")

    def graphql(self, operation: str, token: str | None = None, **variables: object) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {
            "query": operation_documents()[operation],
            "operationName": operation,
            "variables": variables,
        }
        response = httpx.post(f"{self.base}/graphql", json=body, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=60)
        return output


def test_serve_demo_keeps_data_and_secret_across_restarts(tmp_path: Path) -> None:
    # Given a first start with no DATABASE_URL: an embedded PostgreSQL and the demo data.
    server = Server(tmp_path)
    try:
        login = server.graphql("Login", input={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
        token = login["login"]["accessToken"]
        llms = server.graphql("Llms", token, first=50)["llms"]
        assert llms["totalCount"] == 13
        assert server.graphql("Workspace", token, slug="demo")["workspace"]["name"]
        page = httpx.get(f"{server.base}/graphql", headers={"Accept": "text/html"}, timeout=5)
        assert "graphiql" in page.text.lower()
    finally:
        output = server.stop()
    assert "Demo ready" in output
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600

    # When it starts again on the same data directory,
    server = Server(tmp_path)
    try:
        # then the old token still verifies (same secret) and the data is still there.
        assert server.graphql("Me", token)["me"]["email"] == DEMO_EMAIL
        assert server.graphql("Workspaces", token)["workspaces"]["totalCount"] == 1
    finally:
        server.stop()
    # and the embedded server was stopped with the process.
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()


def test_external_database_without_secret_refuses_to_start(tmp_path: Path) -> None:
    env = _clean_env(
        DATABASE_URL="postgresql://postgres@127.0.0.1:1/none", SYNAPSE_DATA_DIR=str(tmp_path)
    )
    result = subprocess.run(
        [*CLI, "serve"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "SYNAPSE_SECRET_KEY is not set" in result.stderr


def test_export_schema_check_passes_for_committed_file() -> None:
    result = subprocess.run(
        [*CLI, "export-schema", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(),
    )
    assert result.returncode == 0, result.stderr


def test_export_schema_check_fails_on_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { old: Int }\n")
    result = subprocess.run(
        [*CLI, "export-schema", "--check", "--output", str(stale)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(),
    )
    assert result.returncode == 1
    assert "stale" in result.stderr


@pytest.mark.parametrize(
    "command", ["serve", "migrate", "seed", "admin", "export-schema", "rotate-secrets"]
)
def test_each_command_has_help(command: str) -> None:
    result = subprocess.run(
        [*CLI, command, "--help"], capture_output=True, text=True, timeout=60, env=_clean_env()
    )
    assert result.returncode == 0
    assert "usage: synapse-gql" in result.stdout
