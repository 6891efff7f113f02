"""An append-only file per streamed answer, so the deltas of the in-process log outlive a
crash of the process.

Each delta is one JSON line, written with a plain ``write()`` before it is published: the
write reaches the OS page cache, which survives ``kill -9`` of the process (only a crash of
the machine loses it, and then the subscribers that saw it are gone too), so no fsync is
needed. The next process reads the file of an answer it closes, then deletes it; a
generation that closes its answer deletes its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from pathlib import Path

from synapse_gql.realtime.stream_log import Delta

log = logging.getLogger(__name__)


def journal_dir(data_dir: Path) -> Path:
    """Where a process journals the deltas of its answers, under its data directory."""
    return data_dir / "streams"


class DeltaJournal:
    """The journal files of answers, one per message, in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._files: dict[uuid.UUID, int] = {}

    def path(self, message_id: uuid.UUID) -> Path:
        """The file of ``message_id``."""
        return self._directory / f"{message_id}.jsonl"

    def append(self, message_id: uuid.UUID, delta: Delta) -> None:
        """Write ``delta`` as one line (to the page cache; no fsync)."""
        self.append_many(message_id, [delta])

    def append_many(self, message_id: uuid.UUID, deltas: list[Delta]) -> None:
        """Write ``deltas`` (in order), one line each, with one ``write()``."""
        fd = self._files.get(message_id)
        if fd is None:
            self._directory.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            fd = self._files[message_id] = os.open(self.path(message_id), flags, 0o600)
        os.write(fd, "".join(delta.to_json() + "\n" for delta in deltas).encode())

    def read(self, message_id: uuid.UUID) -> list[Delta]:
        """The deltas in the file of ``message_id`` (none when it has no file); a line cut
        short (not possible with one ``write()`` per line, but cheap to allow) ends it."""
        try:
            lines = self.path(message_id).read_bytes().splitlines()
        except FileNotFoundError:
            return []
        deltas = []
        for line in lines:
            try:
                deltas.append(Delta.from_json(line))
            except ValueError:
                log.warning("journal of %s has a damaged line; read up to it", message_id)
                break
        return deltas

    def release(self, message_id: uuid.UUID) -> None:
        """Close the file of ``message_id``, keeping it."""
        fd = self._files.pop(message_id, None)
        if fd is not None:
            os.close(fd)

    def discard(self, message_id: uuid.UUID) -> None:
        """Close and delete the file of ``message_id`` (its answer is closed)."""
        self.release(message_id)
        with contextlib.suppress(FileNotFoundError):
            self.path(message_id).unlink()

    def close(self) -> None:
        """Close every file (those of unclosed answers stay for the next process)."""
        for message_id in list(self._files):
            self.release(message_id)
