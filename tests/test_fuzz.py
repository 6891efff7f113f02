"""Fuzzing every query and mutation (schemathesis, deterministic): whatever the document,
with or without a token, the server answers without a 5xx and without an internal error.

``SYNAPSE_FUZZ_EXAMPLES`` sets the examples per root field (default 10, each sent with and
without a token); raise it for a longer run by hand, and set ``SYNAPSE_FUZZ_SEED`` to draw
other documents than the fixed ones CI sends.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from hypothesis.configuration import set_hypothesis_home_dir

from synapse_gql.schema import schema
from tests.conftest import Account
from tests.fuzzing import Tally, fuzz, register_scalars
from tests.gql_client import GraphQLClient

EXAMPLES = int(os.environ.get("SYNAPSE_FUZZ_EXAMPLES", "10"))
SEED = int(os.environ["SYNAPSE_FUZZ_SEED"]) if os.environ.get("SYNAPSE_FUZZ_SEED") else None


async def _real_ids(gql: GraphQLClient, owner: Account, workspace: dict) -> list[str]:
    """Create a project, a tag, a conversation and a turn; every id the owner can use."""
    token = owner.token
    project = (
        await gql.op(
            "CreateProject", token, input={"workspaceId": workspace["id"], "name": "Fuzzed"}
        )
    )["createProject"]
    tag = (
        await gql.op("CreateTag", token, input={"workspaceId": workspace["id"], "name": "fuzz"})
    )["createTag"]
    given = {"workspaceId": workspace["id"], "projectId": project["id"]}
    conversation = (await gql.op("CreateConversation", token, input=given))["createConversation"]
    turn = (
        await gql.op(
            "SendMessage", token, input={"conversationId": conversation["id"], "content": "hello"}
        )
    )["sendMessage"]
    llm = (await gql.op("Llms", token, provider="mock"))["llms"]["edges"][0]["node"]
    ids = [owner.id, workspace["id"], project["id"], tag["id"], conversation["id"], llm["id"]]
    ids += [turn["userMessage"]["id"], turn["assistantMessage"]["id"]]
    return ids


def _sender(gql: GraphQLClient, loop: asyncio.AbstractEventLoop):
    """A blocking ``send`` for the fuzzing thread, run on the app's event loop."""

    async def post(query: str, token: str | None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # ASCII JSON: lone surrogates travel as escapes, as a browser would send them.
        body = json.dumps({"query": query})
        response = await gql.http.post("/graphql", content=body, headers=headers)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    def send(query: str, token: str | None) -> tuple[int, Any]:
        return asyncio.run_coroutine_threadsafe(post(query, token), loop).result(timeout=60)

    return send


async def test_fuzzed_operations_never_fail_internally(
    gql, make_user, make_workspace, tmp_path
) -> None:
    # Hypothesis keeps no example database (see tests/fuzzing.py) and its caches here.
    set_hypothesis_home_dir(str(tmp_path / "hypothesis"))
    # Given a user who owns a workspace with a project, a tag and a conversation
    owner = await make_user("fuzzer")
    workspace = await make_workspace(owner)
    register_scalars(await _real_ids(gql, owner, workspace))
    send = _sender(gql, asyncio.get_running_loop())
    # When every root field is fuzzed without and with the owner's token
    tally: Tally = await asyncio.to_thread(
        fuzz, schema._schema, send, [None, owner.token], EXAMPLES, SEED
    )
    # Then nothing is a 5xx or an internal error, and the run reached the server
    print(tally.summary())
    assert tally.failures == [], tally.failures[:5]
    assert tally.requests >= 2 * EXAMPLES * 50, tally.summary()
    assert tally.statuses["2xx"] > 0, tally.summary()
