"""Child processes of the benches (servers under measure)."""

from __future__ import annotations

import asyncio

STOP_SECONDS = 30.0


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """Terminate ``process`` (if it still runs) and wait; kill it after ``STOP_SECONDS``."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
