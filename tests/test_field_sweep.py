"""Every field of every object type a client reaches from `Query` resolves without an error.

The sweep reads the schema by introspection over HTTP, builds for each reachable type a
selection of all its scalar fields and one level of its object fields (abstract ones through
an inline fragment per possible type), and runs it as the owner of a workspace holding a
project, an agent, a conversation with a question answered by the model, tags, feedback,
variables, a secret, usage, a budget, an API token and an invitation. Node types are
reached through `node(id:)` with the IDs found in earlier answers; a required ID argument
is filled from them by its name.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    build_client_schema,
    get_introspection_query,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
)

from tests.chat_helpers import Served, new_conversation, send, served, wait_for
from tests.conftest import Account
from tests.helpers import db_id, execute, scalar

# An argument named ``<name>Id``/``<name>Ids`` takes IDs of the type ``<name>`` spells,
# save these, whose names differ from the type's.
ARG_TYPES = {"model": "LLM", "fallbackLlm": "LLM", "target": "Project"}
# Optional arguments a field needs one of.
EXTRA_ARGS = {
    "Query.countTokens": ['text: "Hello 👋🏽"'],
    "Query.llmEfficiency": ['from: "2026-01-01T00:00:00Z"', 'to: "2027-01-01T00:00:00Z"'],
}
# Types a workspace owner's data must reach (the rest of the reachable set comes with them).
MUST_REACH = {
    "Agent",
    "Dashboard",
    "ApiToken",
    "BillingEvent",
    "Budget",
    "Conversation",
    "ConversationLLM",
    "LLM",
    "Message",
    "MessageFeedback",
    "Project",
    "Tag",
    "UsageLog",
    "User",
    "UserVariable",
    "Workspace",
    "WorkspaceInvitation",
    "WorkspaceMember",
    "WorkspaceSecret",
}


def decoded_type(value: Any) -> str | None:
    """The type name inside a global ID, or None when ``value`` is not one."""
    if not isinstance(value, str):
        return None
    try:
        type_name, _ = base64.b64decode(value, validate=True).decode().split(":", 1)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return type_name if type_name.isidentifier() else None


def collect_ids(data: Any, known: dict[str, str]) -> None:
    """Remember one global ID per type from every ``id`` in ``data``."""
    if isinstance(data, list):
        for item in data:
            collect_ids(item, known)
    elif isinstance(data, dict):
        for key, value in data.items():
            type_name = decoded_type(value) if key.split("_")[-1] == "id" else None
            if type_name is not None:
                known.setdefault(type_name, value)
            collect_ids(value, known)


def _has_default(arg: GraphQLArgument) -> bool:
    # graphql-core 3.3 keeps an introspected default as ``default``, 3.2 as ``default_value``.
    return arg.default_value is not Undefined or getattr(arg, "default", None) is not None


class Sweep:
    """Selections over an introspected schema; IDs to fill arguments with."""

    def __init__(self, schema: GraphQLSchema, known: dict[str, str]) -> None:
        self.schema = schema
        self.known = known
        self.skipped: set[str] = set()

    def arguments(self, owner: str, name: str, field: GraphQLField) -> str | None:
        """Literal values of the required arguments, or None when one cannot be filled."""
        given = list(EXTRA_ARGS.get(f"{owner}.{name}", []))
        named = {given_arg.split(":")[0] for given_arg in given}
        for arg_name, arg in field.args.items():
            if not is_non_null_type(arg.type) or _has_default(arg) or arg_name in named:
                continue
            value = self._id_for(arg_name, arg.type)
            if value is None:
                self.skipped.add(f"{owner}.{name}")
                return None
            given.append(f"{arg_name}: {value}")
        return f"({', '.join(given)})" if given else ""

    def _id_for(self, arg_name: str, arg_type: Any) -> str | None:
        inner = arg_type.of_type if isinstance(arg_type, GraphQLNonNull) else arg_type
        if get_named_type(inner).name != "ID":
            return None
        stem = arg_name.removesuffix("s").removesuffix("Id")
        wanted = ARG_TYPES.get(stem, stem).lower()
        found = next((v for t, v in self.known.items() if t.lower() == wanted), None)
        if found is None:
            return None
        return f'["{found}"]' if is_list_type(inner) else f'"{found}"'

    def selection(self, type_: Any, depth: int, alias: str = "") -> str:
        """``{ __typename <leaves> <objects one level down> }`` of ``type_``; inside the
        fragments of an abstract type each field is aliased by its type, since two
        possible types may give one field name different types."""
        if is_abstract_type(type_):
            possible = self.schema.get_possible_types(type_)
            inner = " ".join(
                f"... on {t.name} {self.selection(t, depth, f'{t.name}_')}" for t in possible
            )
            return f"{{ __typename {inner} }}"
        parts = ["__typename"]
        for name, field in type_.fields.items():
            named = get_named_type(field.type)
            if not is_leaf_type(named) and depth == 0:
                # A connection's nodes give the IDs of the next types to read.
                if name == "nodes" and "id" in getattr(named, "fields", {}):
                    parts.append(f"{alias}{name}: {name} {{ __typename id }}")
                continue
            args = self.arguments(type_.name, name, field)
            if args is None:
                continue
            sub = "" if is_leaf_type(named) else " " + self.selection(named, depth - 1)
            parts.append(f"{alias}{name}: {name}{args}{sub}" if alias else f"{name}{args}{sub}")
        return "{ " + " ".join(parts) + " }"

    def root_query(self) -> str:
        query_type = self.schema.query_type
        assert query_type is not None
        return "query Sweep " + self.selection(query_type, 2)

    def node_query(self, type_name: str) -> str:
        type_ = self.schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType)
        selection = self.selection(type_, 1)
        node_id = self.known[type_name]
        return f'query Sweep {{ node(id: "{node_id}") {{ ... on {type_name} {selection} }} }}'


async def run(server: Served, token: str, query: str) -> dict:
    body = await server.gql.query(query, token=token)
    assert "errors" not in body, (query, body["errors"])
    return body["data"]


async def mutate(
    server: Served, token: str, field: str, given: dict, result: str, fields: str = "id"
) -> dict:
    """``field(input: given)``; its ``result`` payload (a UserError fails the test)."""
    input_type = field[0].upper() + field[1:] + "Input"
    query = (
        f"mutation M($input: {input_type}!) {{ r: {field}(input: $input) {{ __typename"
        f" ... on {result} {{ {fields} }} ... on UserError {{ code message path }} }} }}"
    )
    body = await server.gql.query(query, {"input": given}, token)
    assert "errors" not in body, body
    assert body["data"]["r"]["__typename"] == result, body
    return body["data"]["r"]


async def demo_like_data(server: Served, owner: Account, workspace: dict, db_engine) -> list:
    """A project, an agent on the mock model, a conversation whose question the model
    answered (priced, so charged), tags on each, feedback, a variable, a secret, a budget,
    an API token and an invitation; their payloads."""
    token, ws = owner.token, workspace["id"]
    # A priced model, so the answer is charged (a billing event).
    await execute(
        db_engine,
        "UPDATE llm_prices SET input_price_per_million = 2, output_price_per_million = 4"
        " WHERE valid_to IS NULL AND llm_id IN (SELECT id FROM llms WHERE provider = 'mock')",
    )
    llms = await run(server, token, 'query { llms(provider: "mock") { nodes { id } } }')
    llm = llms["llms"]["nodes"][0]["id"]
    project = await mutate(
        server, token, "createProject", {"workspaceId": ws, "name": "P"}, "Project"
    )
    agent_input = {"workspaceId": ws, "name": "A", "llmId": llm, "projectId": project["id"]}
    agent = await mutate(server, token, "createAgent", agent_input, "Agent")
    conversation = await new_conversation(
        server.gql, owner, workspace, projectId=project["id"], agentId=agent["id"],
        metadata={"source": "sweep"},
    )  # fmt: skip
    turn = await send(server.gql, owner, conversation, "Hello 👋🏽 model")
    answer = turn["assistantMessage"]

    async def answered() -> bool:
        sql = "SELECT status FROM messages WHERE id = :m"
        return await scalar(db_engine, sql, m=db_id(answer["id"])) == "completed"

    await wait_for(answered)
    tag = await mutate(server, token, "createTag", {"workspaceId": ws, "name": "t"}, "Tag")
    for field, key, target in (
        ("tagConversation", "conversationId", conversation["id"]),
        ("tagMessage", "messageId", answer["id"]),
        ("tagProject", "projectId", project["id"]),
    ):
        await mutate(server, token, field, {"tagId": tag["id"], key: target}, "Tag")
    rating = {"messageId": answer["id"], "ratingType": "THUMBS", "value": "1"}
    secret = {"workspaceId": ws, "key": "OPENAI_API_KEY", "value": "sk-" + "y" * 20}
    return [
        turn,
        project,
        agent,
        tag,
        await mutate(server, token, "rateMessage", rating, "MessageFeedback"),
        await mutate(
            server, token, "setVariable", {"key": "NOTE", "value": "x" * 16}, "UserVariable"
        ),
        await mutate(server, token, "setWorkspaceSecret", secret, "WorkspaceSecret"),
        await mutate(server, token, "setBudget", {"workspaceId": ws, "limit": "25.00"}, "Budget"),
        await mutate(
            server, token, "createApiToken", {"name": "ci"}, "CreatedApiToken", "apiToken { id }"
        ),
        await mutate(
            server,
            token,
            "inviteMember",
            {"workspaceId": ws, "email": "guest@example.com"},
            "CreatedInvitation",
            "invitation { id }",
        ),
    ]


async def test_every_reachable_field_resolves_without_error(
    settings, make_user, make_workspace, db_engine
) -> None:
    """Given an owner's workspace with demo-like data, when every reachable type is read
    with all its fields, then no response has an error, and every type of MUST_REACH was
    read through `node`."""
    # The sweep reads every field of the schema in one document: far more aliases than any
    # client document has.
    async with served(settings, mock_tokens_per_second=0, max_aliases=500) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        created = await demo_like_data(server, owner, workspace, db_engine)
        introspection = await run(server, owner.token, get_introspection_query())
        known: dict[str, str] = {"User": owner.id, "Workspace": workspace["id"]}
        collect_ids(created, known)
        sweep = Sweep(build_client_schema(introspection), known)  # type: ignore[arg-type]

        collect_ids(await run(server, owner.token, sweep.root_query()), known)
        swept: set[str] = set()
        pending = deque(sorted(known))
        while pending:
            type_name = pending.popleft()
            if type_name in swept or not isinstance(
                sweep.schema.get_type(type_name), GraphQLObjectType
            ):
                continue
            swept.add(type_name)
            data = await run(server, owner.token, sweep.node_query(type_name))
            assert data["node"] is not None, type_name
            assert data["node"]["__typename"] == type_name, data
            collect_ids(data, known)
            pending.extend(sorted(set(known) - swept))

    assert swept >= MUST_REACH, MUST_REACH - swept
    # Every field with required arguments was filled in, save the ones `node` stands for
    # (`dashboard(id)` too: dashboards are read through `node` above).
    assert sweep.skipped == {"Query.node", "Query.nodes", "Query.dashboard"}
