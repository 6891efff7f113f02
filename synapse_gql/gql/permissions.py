"""Field permissions. Every mutation declares one (a test enforces it): either
``IsAuthenticated`` or the explicit ``AllowAnyone`` for sign-up and login. Role checks
inside a workspace happen in the services, against the row being changed."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from synapse_gql.errors import Unauthenticated


class IsAuthenticated(BasePermission):
    """The caller sent a valid access or API token."""

    message = "Authentication required: send a bearer token."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.viewer is not None

    def on_unauthorized(self) -> None:
        raise Unauthenticated(self.message)


class IsPlatformAdmin(IsAuthenticated):
    """The caller is a platform administrator."""

    message = "Only platform administrators may do this."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.is_platform_admin

    def on_unauthorized(self) -> None:
        from synapse_gql.errors import Forbidden

        raise Forbidden(self.message)


class AllowAnyone(BasePermission):
    """Deliberately public (register, login, accept an invitation by token)."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return True


AUTHENTICATED: list[type[BasePermission]] = [IsAuthenticated]
# IsAuthenticated first: an anonymous caller is told to log in, not that they lack a role.
PLATFORM_ADMIN: list[type[BasePermission]] = [IsAuthenticated, IsPlatformAdmin]
PUBLIC: list[type[BasePermission]] = [AllowAnyone]
