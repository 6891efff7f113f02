"""Open WebSockets: limits, and ending a socket whose credentials stop being valid.

Close codes (both protocols):

* ``4429`` too many open sockets for the user (``max_sockets_per_user``) or the client
  address (``max_sockets_per_address``); the reason says which;
* ``4403`` the credentials were withdrawn: the API token was revoked, or the account was
  disabled or deleted (reconnecting with the same token fails);
* ``4401`` the token expired (log in again, then reconnect);
* ``4408`` slow consumer: the socket's outgoing queue stayed full (``subscription_send_queue``
  frames for ``slow_consumer_seconds``); reconnect and resume each answer with
  ``afterSequence`` (see ``realtime.fanout.writer``).

A socket is counted from its handshake (per address) and from its connection-init (per
user). Once authenticated it listens on the user's access channel: on news it
re-authenticates its token (one query, only then); a timer closes it when the token
expires. Subscriptions re-check their own rights the same way (see ``realtime.access``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected

from synapse_gql.accounts import repository
from synapse_gql.accounts.auth import authenticate
from synapse_gql.config import Settings
from synapse_gql.errors import Unauthenticated
from synapse_gql.realtime.channels import user_access_channel
from synapse_gql.realtime.socket_counts import LEASE_SECONDS, SocketCounts, create_counts
from synapse_gql.security.keys import API_TOKEN_PREFIX, digest
from synapse_gql.state import AppState

log = logging.getLogger(__name__)

TOO_MANY = 4429
REVOKED = 4403
EXPIRED = 4401
SLOW_CONSUMER = 4408

T = TypeVar("T")


class SocketRefused(Exception):
    """The socket must close with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(eq=False)
class LiveSocket:
    """One open connection and what it holds: counted keys, its watching tasks. An HTTP
    subscription stream is one too (no ``websocket``; it ends with its response)."""

    websocket: WebSocket | None
    address: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    keys: list[str] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self, code: int, reason: str) -> None:
        """Close the socket (once); the server ends its operations when it hears the close."""
        websocket = self.websocket
        if websocket is None or websocket.application_state is WebSocketState.DISCONNECTED:
            return
        with suppress(RuntimeError):
            await websocket.close(code=code, reason=reason)


class ClosingSafeAdapter(ASGIWebSocketAdapter):
    """The WebSocket adapter of the GraphQL view, for sockets this module may close first:
    a second close is a no-op and a send after the close reads as a disconnect."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        if self.ws.application_state is WebSocketState.DISCONNECTED:
            raise WebSocketDisconnected
        try:
            await super().send_json(message)
        except RuntimeError as error:  # closed between the check and the send
            raise WebSocketDisconnected from error

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state is not WebSocketState.DISCONNECTED:
            with suppress(RuntimeError):
                await super().close(code, reason)


async def token_expiry(state: AppState, token: str) -> datetime | None:
    """When ``token`` stops being valid (None: never)."""
    if not token.startswith(API_TOKEN_PREFIX):
        claims = state.keyring.read_access_token(token)
        return None if claims is None else claims.expires_at
    async with state.db.reads() as session:
        found = await repository.api_token_by_hash(session, digest(token))
    return None if found is None else found[0].expires_at


class SocketRegistry:
    """This process's open sockets, counted locally or through Redis (see ``socket_counts``).

    The Redis connection is opened with the first socket and closed with the last one.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._sockets: set[LiveSocket] = set()
        self._counts: SocketCounts | None = None

    @property
    def open_sockets(self) -> int:
        """Sockets of this process currently open."""
        return len(self._sockets)

    def _counter(self) -> SocketCounts:
        if self._counts is None:
            self._counts = create_counts(self.settings.redis_url)
        return self._counts

    async def _count(self, socket: LiveSocket, key: str, limit: int, reason: str) -> None:
        if not await self._counter().add(key, socket.id, limit):
            raise SocketRefused(TOO_MANY, reason)
        socket.keys.append(key)

    @asynccontextmanager
    async def hold(self, websocket: WebSocket) -> AsyncIterator[LiveSocket]:
        """Count ``websocket`` under its address for as long as the block runs;
        ``SocketRefused`` when the address has too many sockets open."""
        address = websocket.client.host if websocket.client else "unknown"
        socket = LiveSocket(websocket, address)
        self._sockets.add(socket)
        try:
            limit = self.settings.max_sockets_per_address
            await self._count(
                socket, f"address:{address}", limit, "Too many open sockets from this address."
            )
            yield socket
        finally:
            await self._release(socket)

    async def hold_stream(self, address: str, user_id: uuid.UUID) -> LiveSocket:
        """Count an HTTP subscription stream like a socket, under its address and its user
        (``SocketRefused`` over either limit, nothing kept counted); release it with
        :meth:`release` when the stream ends or its client goes away."""
        stream = LiveSocket(None, address)
        self._sockets.add(stream)
        try:
            settings = self.settings
            await self._count(
                stream,
                f"address:{address}",
                settings.max_sockets_per_address,
                "Too many open connections from this address.",
            )
            await self._count(
                stream,
                f"user:{user_id}",
                settings.max_sockets_per_user,
                "Too many open connections for this user.",
            )
        except BaseException:
            await self._release(stream)
            raise
        if settings.redis_url:
            stream.tasks.append(asyncio.create_task(_renew(self._counter(), stream)))
        return stream

    async def release(self, stream: LiveSocket) -> None:
        """Stop counting a stream held by :meth:`hold_stream` (idempotent)."""
        if stream in self._sockets:
            await self._release(stream)

    async def _release(self, socket: LiveSocket) -> None:
        for task in socket.tasks:
            task.cancel()
        for task in socket.tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
        self._sockets.discard(socket)
        counts = self._counts
        if counts is None:
            return
        for key in socket.keys:
            with suppress(Exception):
                await counts.remove(key, socket.id)
        if not self._sockets:
            self._counts = None
            await counts.close()

    async def admit(
        self, state: AppState, socket: LiveSocket, user_id: uuid.UUID, token: str
    ) -> None:
        """Count the socket under its user (``SocketRefused`` over the limit), then watch
        its credentials: access news re-authenticates, a timer closes it at expiry."""
        limit = self.settings.max_sockets_per_user
        await self._count(socket, f"user:{user_id}", limit, "Too many open sockets for this user.")
        listening = asyncio.Event()
        watch = asyncio.create_task(_watch_access(state, socket, user_id, token, listening))
        socket.tasks.append(watch)
        expires = await token_expiry(state, token)
        if expires is not None:
            socket.tasks.append(asyncio.create_task(_close_at(socket, expires)))
        if self.settings.redis_url:
            socket.tasks.append(asyncio.create_task(_renew(self._counter(), socket)))
        # The socket is acknowledged only once it hears access news.
        waiter = asyncio.create_task(listening.wait())
        await asyncio.wait({watch, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if watch.done():
            watch.result()


async def _watch_access(
    state: AppState, socket: LiveSocket, user_id: uuid.UUID, token: str, listening: asyncio.Event
) -> None:
    """Re-authenticate on each access news for the user; close when no longer valid."""
    async with state.realtime.subscribe(user_access_channel(user_id)) as changes:
        listening.set()
        async for _ in changes:
            try:
                await authenticate(state, token)
            except Unauthenticated as error:
                await socket.close(REVOKED, error.message)
                return


async def _close_at(socket: LiveSocket, expires: datetime) -> None:
    await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()))
    await socket.close(EXPIRED, "The token expired: log in again and reconnect.")


async def _renew(counts: SocketCounts, socket: LiveSocket) -> None:
    while True:
        await asyncio.sleep(LEASE_SECONDS / 3)
        try:
            await counts.renew(socket.keys, socket.id)
        except Exception:
            log.warning("sockets: renewing the count of socket %s failed", socket.id)


_current: ContextVar[LiveSocket | None] = ContextVar("synapse_socket", default=None)


def registry_of(connection: HTTPConnection) -> SocketRegistry:
    """The app's socket registry (made with the first socket or stream)."""
    app_state = connection.app.state
    registry = getattr(app_state, "synapse_sockets", None)
    if registry is None:
        registry = app_state.synapse_sockets = SocketRegistry(app_state.synapse.settings)
    return registry


async def serve_socket(
    websocket: WebSocket,
    pick_subprotocol: Callable[[], Awaitable[str | None]],
    serve: Callable[[], Awaitable[T]],
) -> T | WebSocket:
    """Run ``serve`` (the GraphQL protocol) for a counted socket; a socket over the address
    limit is accepted and closed with 4429 at once."""
    try:
        async with registry_of(websocket).hold(websocket) as socket:
            token = _current.set(socket)
            try:
                return await serve()
            finally:
                _current.reset(token)
    except SocketRefused as refused:
        await websocket.accept(subprotocol=await pick_subprotocol())
        await websocket.close(code=refused.code, reason=refused.reason)
        return websocket


async def admit_current(state: AppState, user_id: uuid.UUID, token: str) -> None:
    """Count and watch the socket being initialised; over a limit, close it (4429) and raise
    ``SocketRefused``."""
    socket = _current.get()
    if socket is None:
        return
    assert socket.websocket is not None  # set by serve_socket
    try:
        await registry_of(socket.websocket).admit(state, socket, user_id, token)
    except SocketRefused as refused:
        await socket.close(refused.code, refused.reason)
        raise
