"""Catalog queries: readable by anyone signed in."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import strawberry
from sqlalchemy import case, func, select

from synapse_gql.catalog import repository
from synapse_gql.catalog.loaders import LLMLoader
from synapse_gql.catalog.types import LLMType, Provider
from synapse_gql.context import Info
from synapse_gql.gql.pagination import Connection, PageArgs, SortKey, paginate
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import register_node
from synapse_gql.models import LLM


@strawberry.type
class CatalogQuery:
    @strawberry.field(permission_classes=AUTHENTICATED, description="Models, by provider then id.")
    async def llms(
        self,
        info: Info,
        provider: str | None = None,
        active: bool | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[LLMType]:
        settings = info.context.settings
        sort = func.concat(LLM.provider, "/", LLM.model_id)
        return await paginate(
            info.context.sessions,
            repository.llms(provider, active),
            SortKey(sort, LLM.id, descending=False),
            PageArgs(first, after, last, before),
            LLMType.from_row,
            default_size=settings.max_page_size,
            max_size=settings.max_page_size,
        )

    @strawberry.field(permission_classes=AUTHENTICATED, description="Providers in the catalog.")
    async def providers(self, info: Info) -> list[Provider]:
        active = func.count(case((LLM.is_active, 1)))
        stmt = (
            select(LLM.provider, func.count(), active).group_by(LLM.provider).order_by(LLM.provider)
        )
        async with info.context.sessions() as session:
            rows = (await session.execute(stmt)).all()
        return [Provider(name=p, model_count=n, active_model_count=a) for p, n, a in rows]


async def _llms(info: Info, ids: Sequence[uuid.UUID]) -> list[LLMType | None]:
    if info.context.viewer is None:
        return [None] * len(ids)
    rows = await LLMLoader(info).many(ids)
    return [None if r is None else LLMType.from_row(r) for r in rows]


register_node("LLM", _llms)
