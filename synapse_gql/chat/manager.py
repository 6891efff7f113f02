"""The generations running in this process, and the background work around them.

* :meth:`GenerationManager.start` runs a job as a task and tracks it by message;
* stop requests reach the process that runs the generation over the control channel
  (``synapse:control``), so a stop sent to any process works;
* the process holds a lease (:mod:`~synapse_gql.chat.leases`), renewed every
  ``SYNAPSE_WORKER_HEARTBEAT_SECONDS`` by a task of its own over a connection of its own;
  another task, as often (and at least every ``SYNAPSE_STALE_SWEEP_SECONDS``, and once at
  start-up), closes the answers of processes whose lease expired, and stale ones, sparing
  those this process generates;
* :meth:`GenerationManager.shutdown` interrupts what still runs, and each interrupted answer
  is closed as failed (GENERATION_INTERRUPTED) with its text and metered usage.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import suppress

from synapse_gql.chat.checkpoints import Checkpointer
from synapse_gql.chat.leases import WorkerLease
from synapse_gql.chat.recovery import OwnAnswers, sweep_stale
from synapse_gql.chat.runner import Generation, GenerationJob
from synapse_gql.realtime import control_channel, publisher_for, subscribe
from synapse_gql.realtime.events import StopEvent
from synapse_gql.realtime.journal import journal_dir
from synapse_gql.state import AppState

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 10.0
LISTEN_TIMEOUT_SECONDS = 5.0


class GenerationManager:
    """Starts, stops and tracks this process's generations (see the module docstring)."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self._running: dict[uuid.UUID, tuple[GenerationJob, asyncio.Task[None]]] = {}
        self._background: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()
        self._stopping: set[asyncio.Task[bool]] = set()
        settings = state.settings
        journal = None if settings.redis_url else journal_dir(settings.data_dir)
        self.lease = WorkerLease(state.db, journal)
        self.checkpoints = Checkpointer(state)
        # Sweeps run so far (whether or not they closed anything).
        self.sweeps = 0

    @property
    def running(self) -> int:
        """Generations running in this process."""
        return len(self._running)

    def is_running(self, message_id: uuid.UUID) -> bool:
        """True when this process generates ``message_id``."""
        return message_id in self._running

    def start(self, job: GenerationJob) -> asyncio.Task[None]:
        """Run ``job`` in the background."""
        task = asyncio.create_task(
            Generation(self.state, job, self.lease, self.checkpoints)(),
            name=f"synapse-generation-{job.message_id}",
        )
        self._running[job.message_id] = (job, task)
        task.add_done_callback(lambda _: self._running.pop(job.message_id, None))
        return task

    async def wait(self, message_id: uuid.UUID) -> None:
        """Wait until this process's generation of ``message_id`` (if any) has closed it."""
        found = self._running.get(message_id)
        if found is not None:
            await asyncio.shield(found[1])

    async def stop_local(self, message_id: uuid.UUID) -> bool:
        """Stop the generation of ``message_id`` if it runs here, and wait until the
        message is closed as cancelled; False when it does not run here."""
        found = self._running.get(message_id)
        if found is None:
            return False
        job, task = found
        job.stop_requested = True
        task.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.shield(task)
        return True

    async def request_stop(self, message_id: uuid.UUID) -> None:
        """Ask every process to stop ``message_id``'s generation."""
        await publisher_for(self.state.realtime).send(
            control_channel(), StopEvent(message_id=message_id)
        )

    async def start_background(self) -> None:
        """Take the lease, end those of this host's dead processes, sweep once, then listen
        for stop requests, renew and sweep periodically (returns once listening)."""
        await self._renew()
        try:
            await self.lease.end_dead_neighbours()
        except Exception:
            log.exception("looking for this host's stopped processes failed")
        await self._sweep()
        self._background = [
            asyncio.create_task(self._listen(), name="synapse-generation-control"),
            asyncio.create_task(self._keep_lease(), name="synapse-lease"),
            asyncio.create_task(self._keep_sweeping(), name="synapse-sweeper"),
        ]
        try:
            await asyncio.wait_for(asyncio.shield(self._listening.wait()), LISTEN_TIMEOUT_SECONDS)
        except TimeoutError:
            log.warning("stop requests from other processes are not heard yet (realtime down)")

    async def shutdown(self) -> None:
        """Stop background work; interrupt running generations and wait for them to close."""
        for task in self._background:
            task.cancel()
        for task in self._background:
            with suppress(asyncio.CancelledError):
                await task
        tasks = [task for _, task in self._running.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS)
        await self.checkpoints.stop()
        if not self._running:
            try:
                await self.lease.retire()
            except Exception:
                log.exception("giving up the generation lease failed; it will expire")
        await self.lease.close()

    async def _listen(self) -> None:
        async with subscribe(self.state.realtime, control_channel(), StopEvent) as stops:
            self._listening.set()
            async for event in stops:
                if self.is_running(event.message_id):
                    task = asyncio.create_task(self.stop_local(event.message_id))
                    self._stopping.add(task)
                    task.add_done_callback(self._stopping.discard)

    async def _renew(self) -> None:
        try:
            await self.lease.renew()
        except Exception:
            log.exception("renewing the generation lease failed")

    async def _sweep(self) -> None:
        own = OwnAnswers(self.lease.id, list(self._running))
        try:
            await sweep_stale(self.state, own)
            self.sweeps += 1
        except Exception:
            log.exception("sweeping abandoned generations failed")

    async def _keep_lease(self) -> None:
        """Renew the lease every heartbeat (nothing else in this task can delay it)."""
        while True:
            await asyncio.sleep(self.state.settings.worker_heartbeat_seconds)
            await self._renew()

    async def _keep_sweeping(self) -> None:
        """Sweep every heartbeat, or every stale-sweep interval when that is shorter (the
        start-up sweep ran before)."""
        settings = self.state.settings
        interval = min(settings.worker_heartbeat_seconds, settings.stale_sweep_seconds)
        while True:
            await asyncio.sleep(interval)
            await self._sweep()
