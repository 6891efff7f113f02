"""The per-request GraphQL context: the read connection, fresh loaders, the viewer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from synapse_gql.config import Settings
from synapse_gql.errors import Unauthenticated
from synapse_gql.gql.loaders import Loaders
from synapse_gql.gql.read_connection import ReadConnection
from synapse_gql.models import User
from synapse_gql.state import AppState


@dataclass(frozen=True)
class Viewer:
    """The authenticated caller and how they proved it."""

    user: User
    via: Literal["access_token", "api_token"]

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    @property
    def is_platform_admin(self) -> bool:
        return self.user.is_platform_admin


class Context(BaseContext):
    """Request context; the viewer is set from the HTTP header or the WebSocket
    connection-init payload."""

    def __init__(
        self,
        state: AppState,
        viewer: Viewer | None,
        *,
        reads: ReadConnection | None = None,
        hold_reads: bool = True,
    ) -> None:
        super().__init__()
        self.state = state
        self.viewer = viewer
        # One connection for the operation's reads (``reads``: opened by the authentication
        # already); a WebSocket's context serves many operations at once, and checks a
        # connection out per read instead.
        self.reads = reads or ReadConnection(state.db.read_engine, hold=hold_reads)
        self.loaders = Loaders(self.reads)

    @property
    def sessions(self) -> Callable[[], AbstractAsyncContextManager[AsyncSession]]:
        """``async with context.sessions() as session``: an ORM session for reads over the
        request's connection (writes go through ``state.db.transaction()``)."""
        return self.reads.session

    @property
    def settings(self) -> Settings:
        return self.state.settings

    def refresh_loaders(self) -> None:
        """Forget what the loaders cached: subscription events resolve fields long after the
        connection opened, and must not see rows as they were then."""
        self.loaders = Loaders(self.reads)

    def require_viewer(self) -> Viewer:
        """The viewer, or ``Unauthenticated``."""
        if self.viewer is None:
            raise Unauthenticated()
        return self.viewer


Info = StrawberryInfo[Context, None]
