"""Arrangements for the invoice tests: a team with every role, priced calls (real
``generate`` calls of the mock model, and bulk calls through the metering service) and
the invoice operations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.db import Database
from synapse_gql.metering import CallRecord, record_call
from synapse_gql.models import ApiKeySource
from tests.conftest import Account
from tests.generation_helpers import generate, llm_global_id
from tests.gql_client import GraphQLClient
from tests.helpers import db_id, execute, fetch, scalar


@dataclass
class Team:
    """Workspace A with an owner, an admin, a member and a viewer; an outsider owning B;
    two projects of A."""

    workspace: dict
    other: dict
    people: dict[str, Account]
    projects: list[uuid.UUID]

    @property
    def workspace_id(self) -> uuid.UUID:
        return db_id(self.workspace["id"])


def this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def this_month_start() -> datetime:
    """The first instant of this month (UTC)."""
    return datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def last_month_start() -> datetime:
    """The first instant of the month before this one (UTC)."""
    return (this_month_start() - timedelta(days=1)).replace(day=1)


def next_month() -> str:
    first = datetime.now(UTC).replace(day=1)
    return (first + timedelta(days=32)).strftime("%Y-%m")


async def price_mock(engine: AsyncEngine) -> None:
    """Give the mock model a price (2 and 8 USD per million), so its calls cost money."""
    for table, key in (("llm_prices", "llm_id"), ("llms", "id")):
        await execute(
            engine,
            f"UPDATE {table} SET input_price_per_million = 2, output_price_per_million = 8"
            f" WHERE {key} = (SELECT id FROM llms WHERE provider = 'mock')",
        )


async def real_calls(gql: GraphQLClient, engine: AsyncEngine, team: Team, count: int) -> None:
    """``count`` successful ``generate`` calls of the (priced) mock model by the owner."""
    model = await llm_global_id(engine, "synapse-dev")
    for n in range(count):
        payload = await generate(
            gql, team.people["owner"].token, team.workspace, model, prompt=f"Call {n}"
        )
        assert payload["__typename"] == "Generation", payload
        assert Decimal(payload["cost"]) > 0, payload


async def meter(
    db: Database,
    engine: AsyncEngine,
    team: Team,
    model_id: str,
    project: uuid.UUID | None,
    **tokens: int,
) -> uuid.UUID:
    """One call of ``model_id`` in ``project`` recorded by the metering service; its id."""
    [llm] = await fetch(engine, "SELECT id, provider FROM llms WHERE model_id = :m", m=model_id)
    call = CallRecord(
        workspace_id=team.workspace_id,
        user_id=db_id(team.people["member"].id),
        project_id=project,
        llm_id=llm.id,
        provider=llm.provider,
        model_id=model_id,
        api_key_source=ApiKeySource.WORKSPACE,
        input_tokens=tokens.get("input", 1200),
        output_tokens=tokens.get("output", 345),
        cache_read_tokens=tokens.get("cache_read", 0),
    )
    async with db.transaction() as session:
        return (await record_call(session, call)).usage_log.id


async def move_to(engine: AsyncEngine, usage_id: uuid.UUID, when: datetime) -> None:
    """Place a usage row at ``when`` (a call metered with an earlier timestamp)."""
    await execute(engine, "UPDATE usage_logs SET created_at = :t WHERE id = :i", t=when, i=usage_id)


async def usage_sum(engine: AsyncEngine, workspace: uuid.UUID, start: datetime) -> Decimal:
    """The exact sum of the costs of the workspace's calls in the month from ``start``."""
    return await scalar(
        engine,
        "SELECT coalesce(sum(cost), 0) FROM usage_logs WHERE workspace_id = :w"
        " AND created_at >= :s AND created_at < :s + interval '1 month'",
        w=workspace,
        s=start,
    )


async def gen(gql: GraphQLClient, actor: Account, workspace: dict, period: str) -> dict[str, Any]:
    """``generateInvoice`` as ``actor``; the payload."""
    given = {"workspaceId": workspace["id"], "period": period}
    return (await gql.op("GenerateInvoice", actor.token, input=given))["generateInvoice"]


async def act(gql: GraphQLClient, operation: str, actor: Account, invoice: str) -> dict[str, Any]:
    """An invoice transition (``IssueInvoice``, ``MarkInvoicePaid``, ``VoidInvoice``)."""
    data = await gql.op(operation, actor.token, input={"invoiceId": invoice})
    return next(iter(data.values()))


def lines(invoice: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [line for line in invoice["lines"] if line["kind"] == kind]


def amounts(found: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(line["amount"]) for line in found), Decimal(0))
