"""Two apps on one database, one answering reads with compiled SQL (``compiled_reads``) and
one with its resolvers, and a small but varied data set of two tenants for them to read.

``ReadPaths.same`` sends a request to both and demands identical answers: status, ``data``
and ``errors`` (messages, paths, codes), with only the random id of an internal error
normalised.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from synapse_gql.app import create_app
from synapse_gql.config import Settings
from synapse_gql.gql.relay import to_global_id
from tests.conftest import Account, settings_for
from tests.db import TestServer
from tests.gql_client import GraphQLClient
from tests.helpers import db_id
from tests.sqlcount import counting

WIDGET_OPERATION = "query W($workspaceId: ID!) { workspace(id: $workspaceId) { name } }"
# Every text of Alpha (the first tenant) carries this mark: an answer to Bravo's owner that
# contains it has leaked.
ALPHA_MARK = "ALPHA·séc"
PASSWORD = "correct horse battery"
ERROR_ID = re.compile(r"[0-9a-f]{32}")
# The moment a dashboard widget's data was computed: each app computes its own.
# How the statement of a compiled answer begins (``synapse_gql.compiled``).
COMPILED_SQL = "SELECT json_build_object("
# A test taking the ``settings`` fixture and this mark runs with its resolvers and with
# compiled reads.
BOTH_PATHS = pytest.mark.parametrize(
    "settings", [False, True], ids=["resolvers", "compiled"], indirect=True
)
COMPUTED_AT = re.compile(r'("computedAt": )"[^"]*"')


@dataclass
class Tenant:
    """A workspace, its owner and member, and the global IDs of its objects by kind."""

    owner: Account
    member: Account
    workspace: str
    slug: str
    ids: dict[str, list[str]] = field(default_factory=dict)

    def all_ids(self) -> list[str]:
        return [global_id for ids in self.ids.values() for global_id in ids]


@dataclass
class World:
    """Alpha (owner, member, a viewer) and Bravo (owner, member), with the catalog's LLMs."""

    alpha: Tenant
    bravo: Tenant
    viewer: Account  # VIEWER in Alpha: reads conversations, not usage
    llm: str
    other_llm: str
    dashboard: str
    tag: str
    start: datetime  # the oldest usage row's time; every row is within a day of it


# --- the two apps -----------------------------------------------------------------------


def normalised(body: Any) -> Any:
    """A response's ``data`` and ``errors``, with the random id of internal errors replaced
    (the response's own ``extensions`` carry each app's rate-limit state)."""
    answer = {key: body[key] for key in ("data", "errors") if key in body}
    text = COMPUTED_AT.sub(r'\1"<now>"', json.dumps(answer, sort_keys=True))
    return json.loads(ERROR_ID.sub("<error-id>", text))


def differences(compiled: Any, resolved: Any, path: str = "") -> list[str]:
    """Where two answers differ: ``path: compiled != resolved`` for each leaf."""
    if isinstance(compiled, dict) and isinstance(resolved, dict):
        return [
            found
            for key in sorted(compiled.keys() | resolved.keys())
            for found in differences(compiled.get(key), resolved.get(key), f"{path}.{key}")
        ]
    if isinstance(compiled, list) and isinstance(resolved, list) and len(compiled) == len(resolved):
        return [
            found
            for n, (a, b) in enumerate(zip(compiled, resolved, strict=True))
            for found in differences(a, b, f"{path}[{n}]")
        ]
    return [] if compiled == resolved else [f"{path}: {compiled!r} != {resolved!r}"]


@dataclass
class ReadPaths:
    """Clients of the compiled and the resolver app, and the data they read."""

    compiled: GraphQLClient
    resolvers: GraphQLClient
    compiled_engine: AsyncEngine  # the compiled app's, to see which answers were compiled
    engine: AsyncEngine
    world: World
    requests: int = 0
    compiled_answers: int = 0  # requests the compiled app answered with one statement

    async def same(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        operation: str | None = None,
    ) -> dict[str, Any]:
        """The body both apps answer; fails when they differ in status, data or errors."""
        with counting(self.compiled_engine) as log:
            compiled = await self.compiled.raw(query, variables, token, operation)
        self.compiled_answers += any(s.startswith(COMPILED_SQL) for s in log.statements)
        resolved = await self.resolvers.raw(query, variables, token, operation)
        self.requests += 1
        assert compiled.status_code == resolved.status_code, (query, variables)
        body, other = normalised(resolved.json()), normalised(compiled.json())
        assert other == body, (differences(other, body)[:10], query, variables)
        return body


@asynccontextmanager
async def read_paths(server: TestServer, template: str, data_dir: Path) -> AsyncIterator[ReadPaths]:
    """A database of its own with the world in it, read by both apps."""
    name = await server.clone(template)
    settings = settings_for(server.url(name), data_dir)
    engine = create_async_engine(server.url(name))
    try:
        async with AsyncExitStack() as stack:
            compiled, app = await stack.enter_async_context(_client(settings, compiled_reads=True))
            resolvers, _ = await stack.enter_async_context(_client(settings, compiled_reads=False))
            world = await seed_world(resolvers, engine)
            yield ReadPaths(compiled, resolvers, app.state.synapse.db.engine, engine, world)
    finally:
        await engine.dispose()
        await server.drop(name)


@asynccontextmanager
async def _client(settings: Settings, **changes: Any) -> AsyncIterator[tuple[GraphQLClient, Any]]:
    app = create_app(settings.model_copy(update=changes))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield GraphQLClient(http), app


# --- the world ----------------------------------------------------------------------------


async def _register(gql: GraphQLClient, name: str) -> Account:
    email = f"{name}@example.com"
    given = {"email": email, "name": name, "password": PASSWORD}
    payload = (await gql.op("Register", input=given))["register"]
    assert payload["__typename"] == "AuthPayload", payload
    return Account(payload["user"]["id"], email, payload["accessToken"])


async def _made(gql: GraphQLClient, operation: str, token: str, /, **variables: Any) -> dict:
    """The payload of a mutation of ``schema/`` that must succeed."""
    data = await gql.op(operation, token, **variables)
    payload = data[operation[0].lower() + operation[1:]]
    assert payload.get("__typename") != "UserError", payload
    return payload


async def _join(gql: GraphQLClient, owner: Account, workspace: str, user: Account, role: str):
    invite = {"workspaceId": workspace, "email": user.email, "role": role}
    issued = await _made(gql, "InviteMember", owner.token, input=invite)
    await _made(gql, "AcceptInvitation", user.token, token=issued["token"])


async def _tenant(gql: GraphQLClient, owner: Account, member: Account, mark: str) -> Tenant:
    workspace = await _made(
        gql, "CreateWorkspace", owner.token, input={"name": f"{mark} ✓ Team", "description": mark}
    )
    await _join(gql, owner, workspace["id"], member, "MEMBER")
    settings = {"theme": "dark", "nested": {"list": [1, 2.5, "ü"], "none": None}, "mark": mark}
    await _made(
        gql, "UpdateWorkspace", owner.token, input={"id": workspace["id"], "settings": settings}
    )
    tenant = Tenant(owner, member, workspace["id"], workspace["slug"])
    tenant.ids["Workspace"] = [workspace["id"]]
    projects = []
    for name in (f"{mark} projet été", f"{mark} two"):
        given = {"workspaceId": workspace["id"], "name": name}
        projects.append((await _made(gql, "CreateProject", owner.token, input=given))["id"])
    tenant.ids["Project"] = projects
    return tenant


async def _conversations(gql: GraphQLClient, tenant: Tenant, agent: str | None, mark: str):
    """Three conversations: in a project with an agent, plain, and archived."""
    made = []
    for n, extra in enumerate(
        [{"projectId": tenant.ids["Project"][0], "agentId": agent}, {}, {"metadata": {"k": "ü"}}]
    ):
        given = {"workspaceId": tenant.workspace, "title": f"{mark} chat {n} 💬", **extra}
        given = {k: v for k, v in given.items() if v is not None}
        made.append((await _made(gql, "CreateConversation", tenant.owner.token, input=given))["id"])
    await _made(gql, "ArchiveConversation", tenant.owner.token, id=made[2])
    tenant.ids["Conversation"] = made


async def seed_world(gql: GraphQLClient, engine: AsyncEngine) -> World:
    """Two tenants of two users each (and a viewer in the first) with projects, an agent,
    conversations with and without messages, usage and billing rows, tags, feedback,
    a budget, a dashboard, variables and an API token."""
    alice, carol, vera = [await _register(gql, n) for n in ("alice", "carol", "vera")]
    bob, dave = [await _register(gql, n) for n in ("bob", "dave")]
    alpha = await _tenant(gql, alice, carol, ALPHA_MARK)
    bravo = await _tenant(gql, bob, dave, "BRAVO")
    await _join(gql, alice, alpha.workspace, vera, "VIEWER")
    llms = await _llm_ids(engine)
    agent = await _made(
        gql,
        "CreateAgent",
        alice.token,
        input={
            "workspaceId": alpha.workspace,
            "projectId": alpha.ids["Project"][0],
            "name": f"{ALPHA_MARK} agent",
            "llmId": to_global_id("LLM", llms[0]),
            "temperature": "0.35",
        },
    )
    alpha.ids["Agent"] = [agent["id"]]
    await _conversations(gql, alpha, agent["id"], ALPHA_MARK)
    await _conversations(gql, bravo, None, "BRAVO")
    start = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    for tenant, mark in ((alpha, ALPHA_MARK), (bravo, "BRAVO")):
        await _insert_rows(engine, tenant, llms, start, mark)
    await _extras(gql, alpha, bravo)
    dashboard = await _made(
        gql,
        "CreateDashboard",
        alice.token,
        input={
            "workspaceId": alpha.workspace,
            "name": f"{ALPHA_MARK} board",
            "widgets": [
                {
                    "title": "name",
                    "operation": WIDGET_OPERATION,
                    "chartKind": "TABLE",
                }
            ],
        },
    )
    tag = alpha.ids["Tag"][0]
    ids = [to_global_id("LLM", i) for i in llms[:2]]
    return World(alpha, bravo, vera, ids[0], ids[1], dashboard["id"], tag, start)


async def _llm_ids(engine: AsyncEngine) -> list[uuid.UUID]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT id FROM llms ORDER BY provider, model_id LIMIT 2"))
        return [row[0] for row in rows]


async def _extras(gql: GraphQLClient, alpha: Tenant, bravo: Tenant) -> None:
    """Tags (on a conversation, a message and a project), feedback, a budget, secrets,
    variables, an API token and a pending invitation."""
    for tenant, mark in ((alpha, ALPHA_MARK), (bravo, "BRAVO")):
        owner = tenant.owner.token
        given = {"workspaceId": tenant.workspace, "name": f"{mark} tag", "category": "topic"}
        tag = (await _made(gql, "CreateTag", owner, input=given))["id"]
        tenant.ids["Tag"] = [tag]
        conversation, message = tenant.ids["Conversation"][0], tenant.ids["Message"][1]
        given = {"tagId": tag, "conversationId": conversation}
        await _made(gql, "TagConversation", owner, input=given)
        await _made(gql, "TagMessage", owner, input={"tagId": tag, "messageId": message})
        given = {"tagId": tag, "projectId": tenant.ids["Project"][0]}
        await _made(gql, "TagProject", owner, input=given)
        given = {"messageId": message, "ratingType": "STARS", "value": "4", "comment": mark}
        await _made(gql, "RateMessage", owner, input=given)
        given = {"workspaceId": tenant.workspace, "limit": "123.4567890123"}
        tenant.ids["Budget"] = [(await _made(gql, "SetBudget", owner, input=given))["id"]]
        given = {"workspaceId": tenant.workspace, "key": "API_KEY", "value": f"{mark}-secret"}
        await _made(gql, "SetWorkspaceSecret", owner, input=given)
        await _made(
            gql, "SetVariable", owner, input={"key": "TONE", "value": mark, "isSecret": False}
        )
        await _made(gql, "CreateApiToken", owner, input={"name": f"{mark} token"})
        invite = {"workspaceId": tenant.workspace, "email": f"guest.{mark[:5]}@example.com"}
        await _made(gql, "InviteMember", owner, input=invite)


# --- rows written straight to the tables --------------------------------------------------

_MESSAGE = """
INSERT INTO messages (id, conversation_id, role, content, status, author_id, llm_id,
  input_tokens, output_tokens, cost, latency_ms, time_to_first_token_ms, finish_reason,
  error_code, error_message, parent_id, reply_to_id, stream_sequence, created_at, updated_at,
  completed_at)
VALUES (:id, :conversation_id, :role, :content, :status, :author_id, :llm_id,
  :input_tokens, :output_tokens, :cost, :latency_ms, :ttft, :finish_reason,
  :error_code, :error_message, :parent_id, :reply_to_id, :seq, :created_at, :created_at,
  :completed_at)
"""
_USAGE = """
INSERT INTO usage_logs (id, user_id, workspace_id, project_id, conversation_id, message_id,
  llm_id, provider, model_id, input_tokens, output_tokens, total_tokens, tokens_estimated,
  input_price_per_million, output_price_per_million, cache_read_price_per_million, cost,
  latency_ms, time_to_first_token_ms, status, error_code, error_message, parameters,
  api_key_source, cache_read_tokens, attempt, created_at)
VALUES (:id, :user_id, :workspace_id, :project_id, :conversation_id, :message_id,
  :llm_id, 'openai', 'gpt-4o', :input_tokens, :output_tokens, :total_tokens, :estimated,
  2.5, 10.0000000001, :cache_price, :cost,
  :latency_ms, :ttft, :status, :error_code, :error_message, CAST(:parameters AS jsonb),
  :key_source, :cache_tokens, :attempt, :created_at)
"""
_BILLING = """
INSERT INTO billing_events (id, workspace_id, user_id, usage_log_id, message_id, type, amount,
  currency, status, description, created_at)
VALUES (:id, :workspace_id, :user_id, :usage_log_id, :message_id, :type, :amount, 'USD',
  :status, :description, :created_at)
"""
_CONVERSATION_LLM = """
INSERT INTO conversation_llms (id, conversation_id, llm_id, call_count, input_tokens,
  output_tokens, total_cost, total_latency_ms, first_used_at, last_used_at)
VALUES (:id, :conversation_id, :llm_id, 3, 300, 150, 0.0000012345, 4200, :first, :last)
"""
_TOTALS = """
UPDATE conversations c SET message_count = m.n, total_cost = m.cost,
  total_input_tokens = m.input, total_output_tokens = m.output, last_message_at = m.last
FROM (SELECT conversation_id, count(*) AS n, coalesce(sum(cost), 0) AS cost,
        coalesce(sum(input_tokens), 0) AS input, coalesce(sum(output_tokens), 0) AS output,
        max(created_at) AS last
      FROM messages GROUP BY conversation_id) m
WHERE c.id = m.conversation_id
"""

ROLES = ("system", "user", "assistant", "user", "assistant")
STATUSES = ("completed", "completed", "completed", "completed", "failed")


def _messages(tenant: Tenant, llm: uuid.UUID, start: datetime, mark: str) -> list[dict]:
    """Five messages in the first conversation, two in the archived one, none in the
    second; every role, NULL metrics, costs of ten decimals, times with and without
    microseconds (two messages share a time: their order is by id)."""
    rows: list[dict] = []
    plan = [(0, i) for i in range(5)] + [(2, 0), (2, 1)]
    for n, (conversation, i) in enumerate(plan):
        assistant = ROLES[i] == "assistant"
        at = start + timedelta(minutes=n, microseconds=(123456 * n) % 1_000_000)
        if n == 4:
            at = rows[-1]["created_at"]  # a tie on created_at
        rows.append(
            {
                "id": uuid.uuid4(),
                "conversation_id": db_id(tenant.ids["Conversation"][conversation]),
                "role": ROLES[i],
                "content": f'{mark} message {n}: naïve 日本語 "quoted" \\ \n line',
                "status": STATUSES[i],
                "author_id": None if assistant else db_id(tenant.owner.id),
                "llm_id": llm if assistant else None,
                "input_tokens": 120 + n if assistant else None,
                "output_tokens": 40 if assistant else None,
                "cost": Decimal("0.0001234567") * (n + 1) if assistant else None,
                "latency_ms": 812 if assistant else None,
                "ttft": 95 if assistant else None,
                "finish_reason": "stop" if assistant and STATUSES[i] == "completed" else None,
                "error_code": "PROVIDER_ERROR" if STATUSES[i] == "failed" else None,
                "error_message": "upstream said ✗" if STATUSES[i] == "failed" else None,
                "parent_id": rows[-1]["id"] if rows and i else None,
                "reply_to_id": rows[-1]["id"] if assistant and rows else None,
                "seq": n,
                "created_at": at,
                "completed_at": at + timedelta(seconds=1) if assistant else None,
            }
        )
    return rows


def _usage(tenant: Tenant, messages: list[dict], llms: list[uuid.UUID], start: datetime):
    """Seven usage rows over a day: some of no project, conversation or message, errors
    with NULL metrics, two rows at one instant."""
    rows = []
    for n in range(7):
        failed = n % 3 == 2
        at = start + timedelta(hours=3 * n, microseconds=0 if n % 2 else 654321)
        if n == 6:
            at = rows[-1]["created_at"]
        message = messages[n % len(messages)] if n < 5 else None
        rows.append(
            {
                "id": uuid.uuid4(),
                "user_id": db_id(tenant.owner.id if n % 2 else tenant.member.id),
                "workspace_id": db_id(tenant.workspace),
                "project_id": db_id(tenant.ids["Project"][0]) if n < 3 else None,
                "conversation_id": message["conversation_id"] if message else None,
                "message_id": message["id"] if message else None,
                "llm_id": llms[n % 2],
                "input_tokens": 100 * n,
                "output_tokens": 7 * n,
                "total_tokens": 107 * n,
                "estimated": n == 3,
                "cache_price": None if n % 2 else Decimal("1.25"),
                "cost": Decimal("0.0000000001") + Decimal("0.0123456789") * n,
                "latency_ms": None if failed else 400 + n,
                "ttft": None if failed else 50,
                "status": "error" if failed else "success",
                "error_code": "RATE_LIMITED" if failed else None,
                "error_message": "slow down ⏳" if failed else None,
                "parameters": json.dumps({"temperature": 0.2, "stop": ["\n"], "ü": None}),
                "key_source": ("global", "workspace", "user", "none")[n % 4],
                "cache_tokens": n,
                "attempt": 1 + (n == 4),
                "created_at": at,
            }
        )
    return rows


def _billing(tenant: Tenant, usage: list[dict], mark: str) -> list[dict]:
    kinds = [("usage_charge", "pending"), ("credit", "paid"), ("adjustment", "void")]
    return [
        {
            "id": uuid.uuid4(),
            "workspace_id": db_id(tenant.workspace),
            "user_id": row["user_id"] if n != 1 else None,
            "usage_log_id": row["id"] if n != 1 else None,
            "message_id": row["message_id"],
            "type": kinds[n % 3][0],
            "amount": Decimal("-0.5000000001") if n == 1 else row["cost"],
            "status": kinds[n % 3][1],
            "description": f"{mark} line {n}",
            "created_at": row["created_at"],
        }
        for n, row in enumerate(usage[:4])
    ]


async def _insert_rows(
    engine: AsyncEngine, tenant: Tenant, llms: list[uuid.UUID], start: datetime, mark: str
) -> None:
    messages = _messages(tenant, llms[0], start, mark)
    usage = _usage(tenant, messages, llms, start)
    billing = _billing(tenant, usage, mark)
    conversation = messages[0]["conversation_id"]
    llm_row = {"id": uuid.uuid4(), "conversation_id": conversation, "llm_id": llms[0]}
    llm_row |= {"first": start, "last": start + timedelta(minutes=3, microseconds=1)}
    async with engine.begin() as conn:
        await conn.execute(text(_MESSAGE), messages)
        await conn.execute(text(_USAGE), usage)
        await conn.execute(text(_BILLING), billing)
        await conn.execute(text(_CONVERSATION_LLM), llm_row)
        await conn.execute(text(_TOTALS))
    tenant.ids["Message"] = [to_global_id("Message", row["id"]) for row in messages]
    tenant.ids["UsageLog"] = [to_global_id("UsageLog", row["id"]) for row in usage]
    tenant.ids["BillingEvent"] = [to_global_id("BillingEvent", row["id"]) for row in billing]
    tenant.ids["ConversationLLM"] = [to_global_id("ConversationLLM", llm_row["id"])]
