"""Arrangements for the alert tests: alerts read, acknowledged and resolved over the API,
alert rows inserted and counted with SQL."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.gql.relay import to_global_id
from tests.conftest import Account
from tests.gql_client import GraphQLClient
from tests.helpers import db_id, execute, fetch


async def alerts(
    gql: GraphQLClient, actor: Account, workspace: dict, **args: Any
) -> dict[str, Any] | None:
    """``Workspace.alerts`` as ``actor`` reads it (None when the workspace is hidden)."""
    node = (await gql.op("WorkspaceAlerts", actor.token, id=workspace["id"], **args))["node"]
    return None if node is None else node["alerts"]


async def alert_nodes(
    gql: GraphQLClient, actor: Account, workspace: dict, **args: Any
) -> list[dict]:
    """The alerts' nodes of the first page, newest first."""
    page = await alerts(gql, actor, workspace, **args)
    assert page is not None
    return [edge["node"] for edge in page["edges"]]


async def act(gql: GraphQLClient, actor: Account, operation: str, alert_id: str) -> dict:
    """``acknowledgeAlert`` or ``resolveAlert``; the result payload."""
    field = operation[0].lower() + operation[1:]
    return (await gql.op(operation, actor.token, input={"alertId": alert_id}))[field]


async def insert_alert(engine: AsyncEngine, workspace: dict, status: str = "open") -> str:
    """A spend-threshold alert of the workspace written with SQL; its global ID."""
    alert_id = uuid.uuid4()
    await execute(
        engine,
        "INSERT INTO alert_events (id, workspace_id, kind, status, threshold_percent, message,"
        " details) VALUES (:id, :w, 'spend_threshold', :s, 50, 'half the budget', '{}')",
        id=alert_id,
        w=db_id(workspace["id"]),
        s=status,
    )
    return to_global_id("Alert", alert_id)


async def alert_rows(engine: AsyncEngine, kind: str | None = None) -> list[Any]:
    """Alert rows (of ``kind``), oldest first."""
    columns = "id, kind, status, severity, provider, details, resolved_at, acknowledged_by"
    if kind is None:
        return await fetch(engine, f"SELECT {columns} FROM alert_events ORDER BY created_at")
    return await fetch(
        engine,
        f"SELECT {columns} FROM alert_events WHERE kind = :k ORDER BY created_at",
        k=kind,
    )
