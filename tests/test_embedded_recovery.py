"""The embedded PostgreSQL after a crash of the server that started it: a real server in a
temporary data directory, started by a process that is then killed with SIGKILL.

The next start reuses the postmaster left running, and stops it when it exits (the killed
process no longer counts as a user); a ``postmaster.pid`` whose PID now belongs to some
other process neither blocks the start nor passes for a running server.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

# Starts the embedded server on argv[1], checks it answers, prints the postmaster's PID;
# then either waits to be killed ("crash") or stops the server and exits ("run").
SCRIPT = """
import asyncio, sys, time
from pathlib import Path
import asyncpg
from synapse_gql.embedded import EmbeddedPostgres

server = EmbeddedPostgres(Path(sys.argv[1]))
url = server.ensure_database().replace("postgresql+asyncpg", "postgresql")

async def ping():
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT 1")
    finally:
        await conn.close()

assert asyncio.run(ping()) == 1
print(server.postmaster_pid, flush=True)
if sys.argv[2] == "crash":
    time.sleep(600)
server.stop()
"""
STEP_TIMEOUT = 120
POLLS = 100


def run(pgdata: Path) -> int:
    """Start the server in a process that then stops it and exits; the postmaster's PID."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(pgdata), "run"],
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def crash(pgdata: Path) -> int:
    """Start the server in a process killed with SIGKILL once it is up; the postmaster's
    PID (left running)."""
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(pgdata), "crash"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip().isdigit(), process.stderr.read() if process.stderr else line
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(STEP_TIMEOUT)
    return int(line)


def gone(pid: int) -> bool:
    """Poll (a bounded number of times) until ``pid`` no longer runs."""
    for _ in range(POLLS):
        if not psutil.pid_exists(pid):
            return True
        time.sleep(0.1)
    return False


def test_orphaned_postmaster_is_reused_then_stopped_and_a_stale_pid_file_is_ignored(
    tmp_path: Path,
) -> None:
    pgdata = tmp_path / "pgdata"
    orphan = crash(pgdata)
    try:
        # Given a postmaster left running by a killed server,
        assert psutil.pid_exists(orphan)
        stale_pid_file = (pgdata / "postmaster.pid").read_text()

        # when the server starts again, it uses that postmaster, and stops it on exit.
        assert run(pgdata) == orphan
        assert gone(orphan)
        assert not (pgdata / "postmaster.pid").exists()
    finally:
        if psutil.pid_exists(orphan):
            psutil.Process(orphan).kill()

    # Given a postmaster.pid left behind whose PID now belongs to another process,
    other = subprocess.Popen(["sleep", "600"])
    try:
        lines = stale_pid_file.splitlines()
        lines[0] = str(other.pid)
        (pgdata / "postmaster.pid").write_text("\n".join(lines) + "\n")

        # the server starts a postmaster of its own (and stops it on exit).
        fresh = run(pgdata)
    finally:
        other.kill()
        other.wait()
    assert fresh not in (orphan, other.pid)
    assert gone(fresh)
