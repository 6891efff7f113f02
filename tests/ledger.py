"""Rows only the generation flow writes (conversations, messages, usage, billing), inserted
straight into the database for the usage and billing tests."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.helpers import db_id, execute, scalar

BASE = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

INSERT_USAGE = """
INSERT INTO usage_logs (
  id, user_id, workspace_id, project_id, conversation_id, message_id, llm_id, provider,
  model_id, input_tokens, output_tokens, total_tokens, tokens_estimated,
  input_price_per_million, output_price_per_million, cost, latency_ms, time_to_first_token_ms,
  status, error_code, error_message, parameters, api_key_source, created_at
) VALUES (
  :id, :user_id, :workspace_id, :project_id, :conversation_id, :message_id, :llm_id, 'mock',
  'synapse-dev', :input_tokens, :output_tokens, :total_tokens, :tokens_estimated, 1.5, 2,
  :cost, :latency_ms, :ttft, :status, :error_code, :error_message, CAST(:parameters AS jsonb),
  :api_key_source, :created_at
)
"""

INSERT_BILLING = """
INSERT INTO billing_events (
  id, workspace_id, user_id, usage_log_id, message_id, type, amount, currency, status,
  description, created_at
) VALUES (
  :id, :workspace_id, :user_id, :usage_log_id, :message_id, :type, :amount, 'USD', :status,
  :description, :created_at
)
"""


def at(hours: int) -> datetime:
    """``BASE`` plus ``hours``."""
    return BASE + timedelta(hours=hours)


def iso(hours: int) -> str:
    return at(hours).isoformat()


async def dev_llm(engine: AsyncEngine) -> uuid.UUID:
    """The seeded ``mock/synapse-dev`` model."""
    sql = "SELECT id FROM llms WHERE provider = 'mock' AND model_id = 'synapse-dev'"
    return await scalar(engine, sql)


async def insert_usage(
    engine: AsyncEngine, workspace: str, user: str | None, hours: int, **extra: Any
) -> uuid.UUID:
    """A successful usage row of ``workspace`` by ``user`` (global IDs) at ``at(hours)``."""
    row_id = uuid.uuid4()
    values = {
        "id": row_id,
        "user_id": None if user is None else db_id(user),
        "workspace_id": db_id(workspace),
        "project_id": None,
        "conversation_id": None,
        "message_id": None,
        "llm_id": await dev_llm(engine),
        "input_tokens": 10,
        "output_tokens": 20,
        "total_tokens": 30,
        "tokens_estimated": False,
        "cost": "0.000055",
        "latency_ms": 120,
        "ttft": 40,
        "status": "success",
        "error_code": None,
        "error_message": None,
        "parameters": {"temperature": 0.5},
        "api_key_source": "workspace",
        "created_at": at(hours),
    }
    values.update(extra)
    values["parameters"] = json.dumps(values["parameters"])
    await execute(engine, INSERT_USAGE, **values)
    return row_id


async def insert_billing(
    engine: AsyncEngine, workspace: str, user: str | None, hours: int, **extra: Any
) -> uuid.UUID:
    """A pending usage charge of ``workspace`` at ``at(hours)``."""
    row_id = uuid.uuid4()
    values = {
        "id": row_id,
        "workspace_id": db_id(workspace),
        "user_id": None if user is None else db_id(user),
        "usage_log_id": None,
        "message_id": None,
        "type": "usage_charge",
        "amount": "0.25",
        "status": "pending",
        "description": f"charge at {hours}h",
        "created_at": at(hours),
        **extra,
    }
    await execute(engine, INSERT_BILLING, **values)
    return row_id


async def insert_conversation(
    engine: AsyncEngine, workspace: str, title: str = "Chat"
) -> uuid.UUID:
    """An empty active conversation of ``workspace``."""
    row_id = uuid.uuid4()
    sql = (
        "INSERT INTO conversations (id, workspace_id, title, status, metadata, total_cost)"
        " VALUES (:id, :w, :t, 'active', '{}', 0)"
    )
    await execute(engine, sql, id=row_id, w=db_id(workspace), t=title)
    return row_id


async def insert_message(engine: AsyncEngine, conversation_id: uuid.UUID) -> uuid.UUID:
    """A completed assistant message of the conversation."""
    row_id = uuid.uuid4()
    sql = (
        "INSERT INTO messages (id, conversation_id, role, status, content)"
        " VALUES (:id, :c, 'assistant', 'completed', 'Hello')"
    )
    await execute(engine, sql, id=row_id, c=conversation_id)
    return row_id
