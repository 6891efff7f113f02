"""Arrangements for the metering tests: a workspace made over the API, a conversation,
assistant messages and budgets inserted with SQL, and calls recorded in their own
transactions."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.db import Database
from synapse_gql.metering import CallRecord, RecordResult, record_call
from synapse_gql.models import ApiKeySource
from tests.helpers import execute, fetch, scalar
from tests.ledger import db_id, insert_conversation, insert_message


@dataclass(frozen=True)
class Model:
    """A catalog model as the send flow names it."""

    id: uuid.UUID
    provider: str
    model_id: str


@dataclass(frozen=True)
class Scene:
    """A workspace, its owner and one conversation in it."""

    workspace_id: uuid.UUID
    user_id: uuid.UUID
    conversation_id: uuid.UUID

    def call(self, model: Model, **fields: Any) -> CallRecord:
        """A successful call of ``model`` in the conversation, with ``fields`` changed."""
        values: dict[str, Any] = {
            "workspace_id": self.workspace_id,
            "user_id": self.user_id,
            "conversation_id": self.conversation_id,
            "llm_id": model.id,
            "provider": model.provider,
            "model_id": model.model_id,
            "api_key_source": ApiKeySource.WORKSPACE,
            "parameters": {"temperature": 0.7},
            "finish_reason": "stop",
            **fields,
        }
        return CallRecord(**values)


async def make_scene(make_user, make_workspace, engine: AsyncEngine) -> Scene:
    """A user and a workspace made over the API, and a conversation inserted with SQL."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await insert_conversation(engine, workspace["id"])
    return Scene(db_id(workspace["id"]), db_id(owner.id), conversation)


async def model(engine: AsyncEngine, model_id: str) -> Model:
    """The seeded catalog model ``model_id``."""
    [row] = await fetch(engine, "SELECT id, provider FROM llms WHERE model_id = :m", m=model_id)
    return Model(row.id, row.provider, model_id)


async def new_message(engine: AsyncEngine, scene: Scene) -> uuid.UUID:
    """An assistant message of the scene's conversation, without usage yet."""
    return await insert_message(engine, scene.conversation_id)


async def insert_budget(
    engine: AsyncEngine,
    workspace_id: uuid.UUID,
    limit: str,
    *,
    hard_stop: bool = False,
    thresholds: list[int] | None = None,
) -> None:
    """Give the workspace a monthly budget of ``limit`` USD."""
    await execute(
        engine,
        "INSERT INTO budgets (id, workspace_id, monthly_limit, thresholds, hard_stop)"
        " VALUES (:id, :w, :limit, CAST(:t AS jsonb), :hard)",
        id=uuid.uuid4(),
        w=workspace_id,
        limit=Decimal(limit),
        t=json.dumps(thresholds or [50, 80, 100]),
        hard=hard_stop,
    )


async def record(db: Database, call: CallRecord) -> RecordResult:
    """Record ``call`` in a transaction of its own, committed."""
    async with db.transaction() as session:
        return await record_call(session, call)


async def alerts(engine: AsyncEngine, workspace_id: uuid.UUID) -> list[tuple[str, int]]:
    """(kind, threshold) of the workspace's alert events, by threshold."""
    rows = await fetch(
        engine,
        "SELECT kind, threshold_percent FROM alert_events WHERE workspace_id = :w"
        " ORDER BY threshold_percent",
        w=workspace_id,
    )
    return [(row.kind, row.threshold_percent) for row in rows]


async def count(engine: AsyncEngine, table: str, **where: Any) -> int:
    """Rows of ``table`` matching the equality conditions ``where``."""
    condition = " AND ".join(f"{name} = :{name}" for name in where) or "true"
    return await scalar(engine, f"SELECT count(*) FROM {table} WHERE {condition}", **where)
