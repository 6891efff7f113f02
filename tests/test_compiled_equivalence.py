"""The compiled read path answers exactly as the resolvers do.

Every query operation of ``schema/`` (sent with the fragments it uses, as clients send it)
runs on an app with ``compiled_reads`` and on one without, over one data set: with
variables naming the caller's own objects, another tenant's, objects that exist nowhere,
malformed IDs and cursors and page sizes over the limit, as the owner, a viewer, another
tenant's owner and nobody. Connections are paged to their end both ways. Then two hundred
selections generated from the schema (``tests.compiled_selections``) run through both.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from functools import cache, partial
from typing import Any

import pytest
import pytest_asyncio
from graphql import OperationDefinitionNode, parse

from synapse_gql.gql.relay import from_global_id, to_global_id
from tests.compiled_selections import generated_selections
from tests.compiled_support import ReadPaths, World, read_paths
from tests.gql_client import operation_documents

ON_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")

Variables = dict[str, Any]


def _ts(world: World, hours: float) -> str:
    return (world.start + timedelta(hours=hours)).isoformat()


def _period(world: World) -> Variables:
    """Explicit bounds around every row and past now: the default period ends at the
    moment of the request, which differs between two requests."""
    return {"from": _ts(world, -1e4), "to": _ts(world, 1e4)}


# Query operation -> variable sets naming the first tenant's objects (its owner asks).
BASE: dict[str, Callable[[World], list[Variables]]] = {
    "Me": lambda w: [{}],
    "ApiTokens": lambda w: [{"first": 5}, {"includeRevoked": True}],
    "WorkspaceAgents": lambda w: [{"workspaceId": w.alpha.workspace}],
    "ProjectAgents": lambda w: [{"projectId": w.alpha.ids["Project"][0]}],
    "AgentNode": lambda w: [{"id": w.alpha.ids["Agent"][0]}],
    "WorkspaceAlerts": lambda w: [{"id": w.alpha.workspace}],
    "UsageSummary": lambda w: [
        {"workspaceId": w.alpha.workspace, "filter": _period(w)},
        {
            "workspaceId": w.alpha.workspace,
            "granularity": "HOUR",
            "groupBy": ["MODEL", "USER"],
            "filter": {"from": _ts(w, -1), "to": _ts(w, 30)},
        },
    ],
    "UsageSpend": lambda w: [
        {"workspaceId": w.alpha.workspace, "groupBy": ["MODEL"], "filter": _period(w)}
    ],
    "ProjectUsageSummary": lambda w: [
        {"projectId": w.alpha.ids["Project"][0], "filter": _period(w)}
    ],
    "MyUsageSummary": lambda w: [{"filter": _period(w), "groupBy": ["PROJECT"]}],
    "LLMUsageSummary": lambda w: [{"llmId": w.llm, "filter": _period(w)}],
    "WorkspaceStatistics": lambda w: [{"workspaceId": w.alpha.workspace}],
    "FeedbackBreakdown": lambda w: [
        {
            "workspaceId": w.alpha.workspace,
            "groupBy": ["MODEL", "RATING_TYPE"],
            "from": _ts(w, -1e4),
            "to": _ts(w, 1e4),
        }
    ],
    "LLMEfficiency": lambda w: [
        {"from": _ts(w, -24), "to": _ts(w, 48), "workspaceId": w.alpha.workspace}
    ],
    "WorkspaceBudgets": lambda w: [{"id": w.alpha.workspace}],
    "Llms": lambda w: [{"first": 3}, {"provider": "openai", "active": True}],
    "Providers": lambda w: [{}],
    "WorkspaceConversations": lambda w: [
        {"workspaceId": w.alpha.workspace},
        {"workspaceId": w.alpha.workspace, "orderBy": "CREATED_AT", "first": 2},
    ],
    "ProjectConversations": lambda w: [{"projectId": w.alpha.ids["Project"][0]}],
    "ConversationNode": lambda w: [{"id": c} for c in w.alpha.ids["Conversation"]],
    "ConversationMessages": lambda w: [{"id": c} for c in w.alpha.ids["Conversation"]],
    "MessageNode": lambda w: (
        [{"id": m} for m in w.alpha.ids["Message"][:5]]
        + [{"id": w.alpha.ids["ConversationLLM"][0]}]
    ),
    "Dashboard": lambda w: [{"id": w.dashboard}],
    "WorkspaceDashboards": lambda w: [{"id": w.alpha.workspace}],
    "FeedbackOfMessage": lambda w: [{"id": w.alpha.ids["Message"][1]}],
    "FeedbackSummary": lambda w: [{"workspaceId": w.alpha.workspace}],
    "CountTokens": lambda w: [{"model": w.llm, "text": "naïve 日本語"}],
    "WorkspaceInvoices": lambda w: [{"id": w.alpha.workspace}],
    "InvoiceNode": lambda w: [{"id": to_global_id("Invoice", uuid.uuid4())}],
    "Node": lambda w: [
        {"id": i} for i in [*(ids[-1] for ids in w.alpha.ids.values()), w.alpha.owner.id, w.llm]
    ],
    "Nodes": lambda w: [{"ids": w.alpha.all_ids() + w.bravo.ids["Workspace"]}],
    "Projects": lambda w: [
        {"workspaceId": w.alpha.workspace},
        {"workspaceId": w.alpha.workspace, "includeArchived": True},
    ],
    "WorkspaceTags": lambda w: [{"workspaceId": w.alpha.workspace, "category": "topic"}],
    "TaggedEntities": lambda w: [{"id": w.tag}],
    "ProjectTags": lambda w: [{"workspaceId": w.alpha.workspace}],
    "WorkspaceUsage": lambda w: [
        {"workspaceId": w.alpha.workspace},
        {"workspaceId": w.alpha.workspace, "since": _ts(w, 3), "until": _ts(w, 15)},
        {"workspaceId": w.alpha.workspace, "since": _ts(w, 9), "until": _ts(w, 9)},
    ],
    "WorkspaceBilling": lambda w: [{"workspaceId": w.alpha.workspace}],
    "MyUsage": lambda w: [{}, {"since": _ts(w, 6)}],
    "LlmUsage": lambda w: [{"llmId": w.llm}, {"llmId": w.other_llm, "until": _ts(w, 12)}],
    "UserUsage": lambda w: [{"userId": w.alpha.owner.id}, {"userId": w.alpha.member.id}],
    "UsageNode": lambda w: [{"id": u} for u in w.alpha.ids["UsageLog"][:3]],
    "BillingNode": lambda w: [{"id": b} for b in w.alpha.ids["BillingEvent"][:2]],
    "ConversationUsage": lambda w: [{"conversationId": w.alpha.ids["Conversation"][0]}],
    "BillingScopes": lambda w: [
        {
            "conversationId": w.alpha.ids["Conversation"][0],
            "messageId": w.alpha.ids["Message"][2],
            "llmId": w.llm,
        }
    ],
    "Variables": lambda w: [{}],
    "MyVariables": lambda w: [{}],
    "WorkspaceSecrets": lambda w: [{"workspaceId": w.alpha.workspace}],
    "Workspaces": lambda w: [{"first": 5}, {}],
    "Workspace": lambda w: [{"id": w.alpha.workspace}, {"slug": w.alpha.slug}],
}


@cache
def query_operations() -> dict[str, OperationDefinitionNode]:
    """Every query operation of ``schema/`` by name."""
    found = {}
    for name, document in operation_documents().items():
        for definition in parse(document).definitions:
            named = isinstance(definition, OperationDefinitionNode) and definition.name
            if named and definition.name.value == name and definition.operation.value == "query":
                found[name] = definition
    return found


def id_variables(operation: OperationDefinitionNode) -> list[str]:
    """Names of the operation's variables of type ``ID`` (or a list of IDs)."""
    names = []
    for definition in operation.variable_definitions or ():
        type_node = definition.type
        while hasattr(type_node, "type"):
            type_node = type_node.type
        if type_node.name.value == "ID":
            names.append(definition.variable.name.value)
    return names


def variables_of(operation: OperationDefinitionNode) -> set[str]:
    return {definition.variable.name.value for definition in operation.variable_definitions or ()}


def _replace_ids(variables: Variables, names: list[str], make: Callable[[str], str]) -> Variables:
    changed = dict(variables)
    for name in names:
        value = changed.get(name)
        if isinstance(value, list):
            changed[name] = [make(v) for v in value]
        elif value is not None:
            changed[name] = make(value)
    return changed


def _missing(global_id: str) -> str:
    """A well-formed ID of the same type that exists nowhere."""
    return to_global_id(from_global_id(global_id)[0], uuid.uuid4())


def cases(name: str, world: World) -> list[tuple[str, str | None, Variables]]:
    """(label, token, variables) for one operation: each base set as the owner; the first
    as the other tenant's owner, a viewer and nobody, then with missing and malformed IDs,
    a page size over the limit, bad cursors and a backward page."""
    operation = query_operations()[name]
    ids, declared = id_variables(operation), variables_of(operation)
    alice, bob, viewer = world.alpha.owner, world.bravo.owner, world.viewer
    found = [(f"own {n}", alice.token, v) for n, v in enumerate(BASE[name](world))]
    base = BASE[name](world)[0]
    found += [
        ("foreign", bob.token, base),
        ("viewer", viewer.token, base),
        ("anonymous", None, base),
    ]
    if ids and any(base.get(i) for i in ids):
        found.append(("missing", alice.token, _replace_ids(base, ids, _missing)))
        found.append(("malformed", alice.token, _replace_ids(base, ids[:1], _bad_id)))
    extras = {
        "first": [{"first": 101}],
        "after": [{"after": "bogus"}],
        "last": [{"last": 2, "first": 2}],
        "before": [{"before": "bogus", "last": 1}],
    }
    for variable, changes in extras.items():
        if variable in declared:
            found += [(f"{variable} {c}", alice.token, {**base, **c}) for c in changes]
    return found


def _bad_id(_: str) -> str:
    return "not-an-id"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def paths(pg_server, template_db, tmp_path_factory) -> AsyncIterator[ReadPaths]:
    async with read_paths(pg_server, template_db, tmp_path_factory.mktemp("compiled")) as made:
        yield made


def test_every_query_document_is_covered() -> None:
    """Given the documents of ``schema/``, every query operation has variable sets here (a
    new document cannot slip past the comparison)."""
    assert sorted(query_operations()) == sorted(BASE)


async def differing(run: Callable[[], Awaitable[Any]], found: list[str], label: str) -> Any:
    """What ``run`` returns, or None with its mismatch added to ``found``: every
    difference of a test is listed at once, and the module's data set is made once."""
    try:
        return await run()
    except AssertionError as mismatch:
        found.append(f"{label}: {mismatch.args[0] if mismatch.args else mismatch}")
        return None


@ON_MODULE_LOOP
async def test_every_schema_query_answers_alike(paths: ReadPaths) -> None:
    """Given one data set, when each query operation of ``schema/`` runs on both paths with
    each case's variables and caller, then both answer the same data and errors."""
    found: list[str] = []
    for name in sorted(BASE):
        document = operation_documents()[name]
        for label, token, variables in cases(name, paths.world):
            run = partial(paths.same, document, variables, token, name)
            body = await differing(run, found, f"{name} ({label})")
            if label == "own 0" and body is not None:
                assert body.get("data") is not None, (name, body)
    assert not found, (len(found), found[:5])


def _connections(value: Any, path: tuple = ()) -> list[tuple[tuple, dict]]:
    """(path, connection) of every object with a ``pageInfo`` in a response's data."""
    found = []
    if isinstance(value, dict):
        if isinstance(value.get("pageInfo"), dict):
            found.append((path, value))
        for key, child in value.items():
            found += _connections(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _connections(child, (*path, index))
    return found


PAGED = sorted(
    name
    for name, operation in query_operations().items()
    if {"first", "after"} <= variables_of(operation) and name in BASE
)


async def _walk(
    paths: ReadPaths, name: str, base: Variables, size: str, cursor: str, more: str, after: str
) -> int:
    """Pages of the operation's one connection, followed to the end on both paths; the
    number of nodes seen."""
    document = operation_documents()[name]
    pages = ("first", "after", "last", "before")
    variables = {**{k: v for k, v in base.items() if k not in pages}, size: 2}
    seen = 0
    for _ in range(50):
        body = await paths.same(document, variables, paths.world.alpha.owner.token, name)
        found = _connections(body.get("data"))
        if len(found) != 1:
            return seen
        connection = found[0][1]
        seen += len(connection.get("edges") or connection.get("nodes") or [])
        info = connection["pageInfo"]
        if not info.get(more) or not info.get(cursor):
            return seen
        variables = {**variables, after: info[cursor]}
    raise AssertionError(f"{name} did not reach its end")


@ON_MODULE_LOOP
async def test_pages_to_the_end_alike(paths: ReadPaths) -> None:
    """Given each connection of ``schema/``'s operations, when both paths page through it
    two at a time with ``after`` (and back with ``before`` where the operation has it),
    then every page is the same, and both ways see as many nodes."""
    found: list[str] = []
    for name in PAGED:
        base = BASE[name](paths.world)[0]
        forward = partial(_walk, paths, name, base, "first", "endCursor", "hasNextPage", "after")
        ahead = await differing(forward, found, f"{name} forward")
        if {"last", "before"} <= variables_of(query_operations()[name]):
            backward = partial(
                _walk, paths, name, base, "last", "startCursor", "hasPreviousPage", "before"
            )
            back = await differing(backward, found, f"{name} backward")
            assert back is None or ahead is None or back == ahead, (name, ahead, back)
    assert not found, (len(found), found[:5])


@ON_MODULE_LOOP
async def test_generated_selections_answer_alike(paths: ReadPaths) -> None:
    """Given selections generated over workspaces, conversations, messages and usage
    (aliases, fragments, directives, nested connections), when each runs on both paths for
    the owner of the objects and for the other tenant, then the answers are the same."""
    world = paths.world
    generated = generated_selections(world, count=SELECTIONS, seed=20260301)
    with_data, found, compiled_before = 0, [], paths.compiled_answers
    for n, selection in enumerate(generated):
        run = partial(paths.same, selection.query, selection.variables, selection.token)
        body = await differing(run, found, f"selection {n}")
        with_data += body is not None and bool(body.get("data")) and "errors" not in body
    assert not found, (f"{len(found)} of {len(generated)} differ", found[:5])
    assert len(generated) == SELECTIONS
    assert with_data > SELECTIONS // 2, with_data
    # Most selections have a SQL form: the comparison is of two paths, not of one with itself.
    assert paths.compiled_answers - compiled_before > SELECTIONS // 4


SELECTIONS = 200
