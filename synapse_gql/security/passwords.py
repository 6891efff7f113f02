"""Password hashing with argon2id (argon2-cffi's tuned defaults), off the event loop.

A hash or a verification costs tens of milliseconds of CPU and memory on purpose; run on
the event loop it would stall every request and stream of the process. They run in a
small dedicated thread pool instead (``SYNAPSE_PASSWORD_HASH_WORKERS`` threads): a burst
of logins queues behind it while the loop keeps serving, and the pool's size caps the CPU
and memory that logins can take.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

T = TypeVar("T")
DEFAULT_WORKERS = 2

_hasher = PasswordHasher()
_pool = ThreadPoolExecutor(DEFAULT_WORKERS, thread_name_prefix="synapse-password")
_pool_size = DEFAULT_WORKERS
# One hash per hasher, made with its own parameters: verifying against it keeps the cost
# of a login for an unknown email the same as for a known one.
_dummy: dict[int, str] = {}


def configure(workers: int) -> None:
    """Size the hashing pool (``SYNAPSE_PASSWORD_HASH_WORKERS``); work already queued on an
    older pool still completes there."""
    global _pool, _pool_size
    if workers == _pool_size:
        return
    previous, _pool = _pool, ThreadPoolExecutor(workers, thread_name_prefix="synapse-password")
    _pool_size = workers
    previous.shutdown(wait=False)


async def _in_pool(work: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_pool, work)


def _dummy_hash(hasher: PasswordHasher) -> str:
    key = id(hasher)
    if key not in _dummy:
        _dummy[key] = hasher.hash("synapse-gql-timing-equaliser")
    return _dummy[key]


def _verify(hasher: PasswordHasher, password_hash: str | None, password: str) -> bool:
    try:
        return hasher.verify(password_hash or _dummy_hash(hasher), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    """Hash a password for storage (in the hashing pool)."""
    hasher = _hasher
    return await _in_pool(lambda: hasher.hash(password))


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing hash still costs one verification."""
    hasher = _hasher
    return await _in_pool(lambda: _verify(hasher, password_hash, password))


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's (cheap: no hashing)."""
    return _hasher.check_needs_rehash(password_hash)
