"""Account queries: ``me`` and the viewer's API tokens."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import strawberry
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import aliased

from synapse_gql.accounts import repository
from synapse_gql.accounts.types import ApiTokenType, UserType
from synapse_gql.context import Info
from synapse_gql.gql.pagination import Connection, PageArgs, SortKey, paginate
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import register_node
from synapse_gql.models import ApiToken, User, WorkspaceMember


@strawberry.type
class AccountQuery:
    @strawberry.field(description="The authenticated user, or null without a token.")
    def me(self, info: Info) -> UserType | None:
        viewer = info.context.viewer
        return None if viewer is None else UserType.from_row(viewer.user)

    @strawberry.field(
        permission_classes=AUTHENTICATED, description="Your API tokens, newest first."
    )
    async def api_tokens(
        self,
        info: Info,
        include_revoked: bool = False,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ApiTokenType]:
        viewer = info.context.require_viewer()
        settings = info.context.settings
        return await paginate(
            info.context.sessions,
            repository.api_tokens_of(viewer.id, include_revoked),
            SortKey(ApiToken.created_at, ApiToken.id),
            PageArgs(first, after, last, before),
            ApiTokenType.from_row,
            default_size=settings.default_page_size,
            max_size=settings.max_page_size,
        )


async def _visible_users(info: Info, ids: Sequence[UUID]) -> list[UserType | None]:
    """Users the viewer shares a workspace with (and the viewer)."""
    viewer = info.context.viewer
    if viewer is None:
        return [None] * len(ids)
    mine, theirs = aliased(WorkspaceMember), aliased(WorkspaceMember)
    shared = exists().where(
        mine.user_id == viewer.id,
        theirs.workspace_id == mine.workspace_id,
        theirs.user_id == User.id,
    )
    stmt = select(User).where(User.id.in_(ids), or_(User.id == viewer.id, shared))
    found = {row.id: row for row in await info.context.loaders.rows(stmt)}
    return [UserType.from_row(found[i]) if i in found else None for i in ids]


async def _own_tokens(info: Info, ids: Sequence[UUID]) -> list[ApiTokenType | None]:
    viewer = info.context.viewer
    if viewer is None:
        return [None] * len(ids)
    stmt = select(ApiToken).where(ApiToken.id.in_(ids), ApiToken.user_id == viewer.id)
    found = {row.id: row for row in await info.context.loaders.rows(stmt)}
    return [ApiTokenType.from_row(found[i]) if i in found else None for i in ids]


register_node("User", _visible_users)
register_node("ApiToken", _own_tokens)
