"""The per-request GraphQL context: a session factory, fresh loaders, the viewer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from synapse_gql.errors import Unauthenticated
from synapse_gql.gql.loaders import Loaders
from synapse_gql.models import User
from synapse_gql.state import AppState


@dataclass(frozen=True)
class Viewer:
    """The authenticated caller and how they proved it."""

    user: User
    via: Literal["access_token", "api_token"]

    @property
    def id(self):  # type: ignore[no-untyped-def]
        return self.user.id

    @property
    def is_platform_admin(self) -> bool:
        return self.user.is_platform_admin


class Context(BaseContext):
    """Request context; the viewer is set from the HTTP header or the WebSocket
    connection-init payload."""

    def __init__(self, state: AppState, viewer: Viewer | None) -> None:
        super().__init__()
        self.state = state
        self.viewer = viewer
        self.loaders = Loaders(state.db.sessions)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.state.db.sessions

    @property
    def settings(self):  # type: ignore[no-untyped-def]
        return self.state.settings

    def refresh_loaders(self) -> None:
        """Forget what the loaders cached: subscription events resolve fields long after the
        connection opened, and must not see rows as they were then."""
        self.loaders = Loaders(self.state.db.sessions)

    def require_viewer(self) -> Viewer:
        """The viewer, or ``Unauthenticated``."""
        if self.viewer is None:
            raise Unauthenticated()
        return self.viewer


Info = StrawberryInfo[Context, None]
