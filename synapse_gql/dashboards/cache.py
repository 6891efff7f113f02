"""The process's cache of widget results, per widget and viewer, each kept for its
widget's cache time; bounded in entries and in bytes, least recently used out first."""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_ENTRIES = 2048
MAX_BYTES = 32 * 1024 * 1024
MAX_ENTRY_BYTES = 1024 * 1024

CacheKey = tuple[uuid.UUID, uuid.UUID]


@dataclass(frozen=True)
class WidgetResult:
    """What a widget's query answered: its ``data`` and formatted ``errors``."""

    data: Any
    errors: list[dict[str, Any]]
    computed_at: datetime


@dataclass(frozen=True)
class _Entry:
    result: WidgetResult
    expires: float
    size: int


class WidgetCache:
    """Results of widget queries by (widget id, viewer id)."""

    def __init__(
        self,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self.bytes = 0
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: CacheKey) -> WidgetResult | None:
        """The live result under ``key``, or None (an expired one is dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= self.clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry.result

    def put(self, key: CacheKey, result: WidgetResult, seconds: int) -> None:
        """Keep ``result`` for ``seconds``; results with errors, for no time or too large
        for an entry are not kept."""
        if seconds <= 0 or result.errors:
            return
        size = len(json.dumps(result.data, separators=(",", ":"), default=str))
        if size > MAX_ENTRY_BYTES:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = _Entry(result, self.clock() + seconds, size)
        self.bytes += size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: CacheKey) -> None:
        self.bytes -= self._entries.pop(key).size
