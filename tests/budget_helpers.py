"""Arrangements for the budget tests: the mock model given an exact price, budgets set
over the API, and the budgets' period rows read with SQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Account
from tests.generation_helpers import llm_global_id
from tests.gql_client import GraphQLClient
from tests.helpers import db_id, fetch, make_admin, scalar

# The mock's price in the budget tests: input free, each output token 0.1 USD, so an answer
# limited to MAX_TOKENS tokens (the mock's replies are longer) costs exactly its worst case.
MAX_TOKENS = 2
CALL_COST = Decimal("0.1") * MAX_TOKENS


async def price_the_mock(gql: GraphQLClient, engine: AsyncEngine, admin: Account) -> str:
    """Give the mock model 0 USD per input and 0.1 USD per output token; its global ID."""
    await make_admin(engine, admin.email)
    mock = await llm_global_id(engine, "synapse-dev")
    price = {"id": mock, "inputPricePerMillion": "0", "outputPricePerMillion": "100000"}
    updated = (await gql.op("UpdateLlm", admin.token, input=price))["updateLlm"]
    assert updated["__typename"] == "LLM", updated
    return mock


async def set_budget(gql: GraphQLClient, actor: Account, workspace: dict, **given: Any) -> dict:
    """``setBudget``; the result payload."""
    payload = {"workspaceId": workspace["id"], **given}
    return (await gql.op("SetBudget", actor.token, input=payload))["setBudget"]


async def budgets(gql: GraphQLClient, actor: Account, workspace: dict) -> list[dict] | None:
    """``Workspace.budgets`` as ``actor`` reads them (None when the workspace is hidden)."""
    node = (await gql.op("WorkspaceBudgets", actor.token, id=workspace["id"]))["node"]
    return None if node is None else node["budgets"]


async def usage_row(engine: AsyncEngine, budget: dict) -> Any:
    """The budget's row of the current period (spent, reserved)."""
    [row] = await fetch(
        engine,
        "SELECT spent, reserved FROM budget_usage WHERE budget_id = :b",
        b=db_id(budget["id"]),
    )
    return row


async def open_reservations(engine: AsyncEngine) -> int:
    """Reservations nobody settled yet."""
    return await scalar(engine, "SELECT count(*) FROM budget_reservations")


async def streaming(engine: AsyncEngine) -> int:
    """Answers still being generated."""
    return await scalar(engine, "SELECT count(*) FROM messages WHERE status = 'streaming'")
