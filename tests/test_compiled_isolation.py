"""Tenant isolation on both read paths: Bravo's owner probes Alpha's objects by every
read (``node``/``nodes`` with Alpha's IDs, ``workspace`` by id and slug, nested
connections, usage pages with Alpha's cursors), and Alpha's viewer reaches for usage.
Nothing of Alpha appears, a foreign ID answers like one that exists nowhere, and the
compiled and the resolver app answer the same (``tests.compiled_support``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import pytest
import pytest_asyncio

from tests.compiled_support import ALPHA_MARK, ReadPaths, Tenant, read_paths
from tests.test_isolation import NODE_QUERY, missing

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Everything of the four types with a SQL form, nested as clients nest it.
PROBE = """
query Probe($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Workspace {
      name slug settings
      conversations(first: 5) { totalCount nodes { id title metadata } }
      usageLogs(first: 5) { totalCount edges { cursor node { id cost parameters } } }
    }
    ... on Conversation {
      title metadata
      messages(first: 5) { totalCount edges { cursor node { id content role } } }
    }
    ... on Message { content role status }
    ... on UsageLog { cost modelId parameters createdAt }
  }
}
"""
PROBE_MANY = """
query ProbeMany($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename id
    ... on Workspace { name conversations(first: 3) { nodes { id title } } }
    ... on Conversation { title messages(first: 3) { nodes { id content } } }
    ... on Message { content }
    ... on UsageLog { cost }
  }
}
"""
WORKSPACE = """
query Ws($id: ID, $slug: String) {
  workspace(id: $id, slug: $slug) {
    id name settings
    conversations(first: 10) {
      totalCount
      edges { cursor node { id title messages(first: 10) { totalCount nodes { id content } } } }
    }
    usageLogs(first: 10) { totalCount edges { cursor node { id cost } } }
  }
}
"""
WORKSPACES = """
{ workspaces(first: 10) { totalCount nodes { id name
    conversations(first: 10) { nodes { id title messages(first: 10) { nodes { content } } } }
    usageLogs(first: 10) { totalCount nodes { id } } } } }
"""
USAGE_PAGE = """
query Usage($id: ID!, $after: String, $first: Int) {
  workspace(id: $id) {
    usageLogs(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id cost } }
    }
  }
}
"""
MESSAGE_PAGE = """
query Messages($id: ID!, $after: String) {
  node(id: $id) {
    ... on Conversation {
      messages(first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id content } }
      }
    }
  }
}
"""
COMPILED_KINDS = ("Workspace", "Conversation", "Message", "UsageLog")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def paths(pg_server, template_db, tmp_path_factory) -> AsyncIterator[ReadPaths]:
    async with read_paths(pg_server, template_db, tmp_path_factory.mktemp("isolation")) as made:
        yield made


@contextmanager
def all_compiled(paths: ReadPaths) -> Iterator[None]:
    """Every request of the block was answered by a compiled statement: the probes reach
    the compiled path, so the comparison is of two paths."""
    requests, compiled = paths.requests, paths.compiled_answers
    yield
    assert paths.compiled_answers - compiled == paths.requests - requests


def leaked(body: dict[str, Any], tenant: Tenant, asked: Any = None) -> list[str]:
    """Alpha's mark and IDs found in an answer (but those the caller sent itself)."""
    text = json.dumps(body, ensure_ascii=False)
    sent = json.dumps(asked or {})
    found = [ALPHA_MARK] if ALPHA_MARK in text else []
    return found + [i for i in tenant.all_ids() if i in text and i not in sent]


async def test_node_hides_every_foreign_object(paths: ReadPaths) -> None:
    """Given each of Alpha's objects, when Bravo's owner refetches it with the nested
    probe (or the plain one for types without a SQL form), then null on both paths,
    exactly as for an ID that exists nowhere."""
    alpha, bob = paths.world.alpha, paths.world.bravo.owner
    for kind, ids in alpha.ids.items():
        query = PROBE if kind in COMPILED_KINDS else NODE_QUERY
        for global_id in ids:
            with all_compiled(paths) if kind in COMPILED_KINDS else nullcontext():
                body = await paths.same(query, {"id": global_id}, bob.token)
                nowhere = missing({kind: global_id})[kind]
                assert await paths.same(query, {"id": nowhere}, bob.token) == body
            assert body == {"data": {"node": None}}, (kind, body)


async def test_owner_sees_what_the_other_does_not(paths: ReadPaths) -> None:
    """Given the same probes, when Alpha's owner sends them, then the objects are there
    (the probes do reach data), alike on both paths."""
    alpha = paths.world.alpha
    for kind in COMPILED_KINDS:
        with all_compiled(paths):
            body = await paths.same(PROBE, {"id": alpha.ids[kind][0]}, alpha.owner.token)
        assert body["data"]["node"]["__typename"] == kind, body


async def test_nodes_mix_own_and_foreign(paths: ReadPaths) -> None:
    """Given Alpha's and Bravo's IDs in one ``nodes`` call by Bravo's owner, then Bravo's
    objects come back and Alpha's are null, in order."""
    world = paths.world
    alpha_ids = [i for kind in COMPILED_KINDS for i in world.alpha.ids[kind]]
    bravo_ids = [i for kind in COMPILED_KINDS for i in world.bravo.ids[kind]]
    ids = [i for pair in zip(alpha_ids, bravo_ids, strict=False) for i in pair]
    with all_compiled(paths):
        body = await paths.same(PROBE_MANY, {"ids": ids}, world.bravo.owner.token)
    answers = body["data"]["nodes"]
    for global_id, answer in zip(ids, answers, strict=True):
        if global_id in alpha_ids:
            assert answer is None, (global_id, answer)
        else:
            assert answer is not None, global_id
            assert answer["id"] == global_id, (global_id, answer)
    assert leaked(body, world.alpha, ids) == []


@pytest.mark.parametrize("by", ["id", "slug"])
async def test_workspace_by_id_or_slug_hides_foreign(paths: ReadPaths, by: str) -> None:
    """Given Alpha's workspace, when Bravo's owner asks for it with its nested lists by
    ID or slug, then null on both paths."""
    alpha = paths.world.alpha
    key = {"id": alpha.workspace, "slug": alpha.slug}[by]
    body = await paths.same(WORKSPACE, {by: key}, paths.world.bravo.owner.token)
    assert body == {"data": {"workspace": None}}, body


async def test_workspace_lists_only_own_trees(paths: ReadPaths) -> None:
    """Given two tenants, when Bravo's owner reads the whole tree of his workspaces, then
    only Bravo's workspace, conversations, messages and usage appear."""
    world = paths.world
    with all_compiled(paths):
        body = await paths.same(WORKSPACES, {}, world.bravo.owner.token)
    nodes = body["data"]["workspaces"]["nodes"]
    assert [n["id"] for n in nodes] == [world.bravo.workspace]
    assert len(nodes[0]["usageLogs"]["nodes"]) == len(world.bravo.ids["UsageLog"])
    assert leaked(body, world.alpha) == []


async def _usage_cursor(paths: ReadPaths, tenant: Tenant) -> str:
    variables = {"id": tenant.workspace, "first": 2}
    body = await paths.same(USAGE_PAGE, variables, tenant.owner.token)
    return body["data"]["workspace"]["usageLogs"]["pageInfo"]["endCursor"]


async def test_usage_pages_with_foreign_cursors(paths: ReadPaths) -> None:
    """Given a cursor of Alpha's usage page, when Bravo's owner pages his own usage after
    it, or Alpha's with it, then no row of Alpha's appears, alike on both paths."""
    world = paths.world
    cursor = await _usage_cursor(paths, world.alpha)
    bob = world.bravo.owner.token
    for workspace in (world.bravo.workspace, world.alpha.workspace):
        variables = {"id": workspace, "after": cursor, "first": 5}
        body = await paths.same(USAGE_PAGE, variables, bob)
        assert leaked(body, world.alpha, variables) == [], body


async def test_message_pages_with_foreign_cursors(paths: ReadPaths) -> None:
    """Given a cursor of an Alpha conversation's messages, when Bravo's owner pages his
    own conversation after it, then only Bravo's messages, alike on both paths."""
    world = paths.world
    alpha_conversation = world.alpha.ids["Conversation"][0]
    first = await paths.same(MESSAGE_PAGE, {"id": alpha_conversation}, world.alpha.owner.token)
    cursor = first["data"]["node"]["messages"]["pageInfo"]["endCursor"]
    variables = {"id": world.bravo.ids["Conversation"][0], "after": cursor}
    body = await paths.same(MESSAGE_PAGE, variables, world.bravo.owner.token)
    assert leaked(body, world.alpha, variables) == [], body


async def test_viewer_reads_conversations_but_not_usage(paths: ReadPaths) -> None:
    """Given Alpha's viewer (no usage rights), when they read the workspace tree and a
    usage row by ID, then conversations are there and no usage row, alike on both."""
    world = paths.world
    viewer = world.viewer.token
    tree = await paths.same(WORKSPACE, {"id": world.alpha.workspace}, viewer)
    workspace = tree["data"]["workspace"] if tree.get("data") else None
    assert workspace is not None, tree
    assert workspace["conversations"]["totalCount"] > 0, tree
    assert not (workspace.get("usageLogs") or {}).get("edges"), tree
    row = await paths.same(PROBE, {"id": world.alpha.ids["UsageLog"][0]}, viewer)
    assert row["data"]["node"] is None, row


async def test_anonymous_reads_nothing(paths: ReadPaths) -> None:
    """Given no bearer token, when the probes run with Alpha's IDs, then nothing of Alpha,
    alike on both paths."""
    alpha = paths.world.alpha
    for kind in COMPILED_KINDS:
        variables = {"id": alpha.ids[kind][0]}
        body = await paths.same(PROBE, variables, None)
        assert leaked(body, alpha, variables) == [], body
    body = await paths.same(WORKSPACE, {"id": alpha.workspace}, None)
    assert leaked(body, alpha, {"id": alpha.workspace}) == [], body
