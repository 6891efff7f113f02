"""Agents: create, update, archive and restore inside a workspace, checked against the catalog."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from synapse_gql.gql.relay import decode_id, to_global_id
from tests.helpers import execute, fetch, scalar, user_error

MISSING_PROJECT = to_global_id("Project", uuid.uuid4())


async def llm(db_engine, model_id: str = "gpt-4o") -> str:
    """The global ID of a seeded catalog model."""
    found = await scalar(db_engine, "SELECT id FROM llms WHERE model_id = :m", m=model_id)
    return to_global_id("LLM", found)


async def create(gql, actor, workspace: dict, llm_id: str, **extra) -> dict:
    given = {"workspaceId": workspace["id"], "name": "Helper", "llmId": llm_id, **extra}
    token = actor.token if actor else None
    return (await gql.op("CreateAgent", token, input=given))["createAgent"]


async def update(gql, actor, agent: dict, **changes) -> dict:
    token = actor.token if actor else None
    return (await gql.op("UpdateAgent", token, input={"id": agent["id"], **changes}))["updateAgent"]


async def stored(db_engine, agent: dict):
    """The agent's row straight from the database."""
    sql = "SELECT name, temperature, top_p, max_tokens, status FROM agents WHERE id = :id"
    [row] = await fetch(db_engine, sql, id=decode_id(agent["id"], "Agent"))
    return row


async def agent_names(gql, actor, workspace: dict, **variables) -> list[str]:
    data = await gql.op("WorkspaceAgents", actor.token, workspaceId=workspace["id"], **variables)
    return [e["node"]["name"] for e in data["workspace"]["agents"]["edges"]]


@pytest.fixture
async def team(make_user, make_workspace, add_member):
    """A workspace with an owner, a member and a viewer; an outsider with their own."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    member, viewer, outsider = [await make_user(n) for n in ("member", "viewer", "outsider")]
    await add_member(owner, workspace, member, "MEMBER")
    await add_member(owner, workspace, viewer, "VIEWER")
    await make_workspace(outsider, "Elsewhere")
    return workspace, owner, member, viewer, outsider


async def project(gql, actor, workspace: dict, name: str = "P") -> dict:
    given = {"workspaceId": workspace["id"], "name": name}
    return (await gql.op("CreateProject", actor.token, input=given))["createProject"]


async def test_member_creates_agent(gql, team, db_engine) -> None:
    """Given a member, when they create an agent with every setting, then it is stored with
    Decimal sampling values and links to its model, fallback, project and creator."""
    workspace, _, member, _, _ = team
    folder = await project(gql, member, workspace)
    main, fallback = await llm(db_engine), await llm(db_engine, "gpt-4o-mini")
    agent = await create(
        gql,
        member,
        workspace,
        main,
        name=" Support ",
        description="Answers tickets",
        systemPrompt="You help.",
        temperature="0.7",
        maxTokens=16_384,
        topP=0.9,
        parameters={"stop": ["END"]},
        fallbackLlmId=fallback,
        projectId=folder["id"],
    )
    assert agent["__typename"] == "Agent", agent
    assert (agent["name"], agent["description"], agent["systemPrompt"]) == (
        "Support",
        "Answers tickets",
        "You help.",
    )
    assert (agent["temperature"], agent["topP"], agent["maxTokens"]) == ("0.7", "0.9", 16_384)
    assert agent["parameters"] == {"stop": ["END"]}
    assert (agent["llm"]["id"], agent["llm"]["modelId"]) == (main, "gpt-4o")
    assert agent["fallbackLlm"] == {"id": fallback, "modelId": "gpt-4o-mini"}
    assert agent["project"] == {"id": folder["id"]}
    assert agent["workspace"] == {"id": workspace["id"]}
    assert (agent["createdBy"], agent["status"]) == ({"id": member.id}, "ACTIVE")
    row = await stored(db_engine, agent)
    assert (row.temperature, row.top_p) == (Decimal("0.70"), Decimal("0.90"))


async def test_minimal_agent_leaves_sampling_unset(gql, team, db_engine) -> None:
    """Given only a name and model, when created, then sampling and links are null."""
    workspace, owner, _, _, _ = team
    agent = await create(gql, owner, workspace, await llm(db_engine, "synapse-dev"))
    assert (agent["temperature"], agent["topP"], agent["maxTokens"]) == (None, None, None)
    assert (agent["project"], agent["fallbackLlm"], agent["parameters"]) == (None, None, {})


async def test_float_temperature_is_rounded_to_hundredths(gql, team, db_engine) -> None:
    """Given a float with three decimals, when stored, then it is rounded to hundredths."""
    workspace, owner, _, _, _ = team
    agent = await create(gql, owner, workspace, await llm(db_engine), temperature=1.255)
    assert agent["temperature"] == "1.26"
    assert (await stored(db_engine, agent)).temperature == Decimal("1.26")


BAD_SETTINGS = [
    ({"name": "  "}, "name"),
    ({"name": "n" * 201}, "name"),
    ({"description": "d" * 5001}, "description"),
    ({"systemPrompt": "s" * 32_001}, "systemPrompt"),
    ({"temperature": -0.01}, "temperature"),
    ({"temperature": "2.01"}, "temperature"),
    ({"topP": 0}, "topP"),
    ({"topP": "1.01"}, "topP"),
    ({"maxTokens": 0}, "maxTokens"),
    ({"maxTokens": 16_385}, "maxTokens"),
    ({"parameters": [1, 2]}, "parameters"),
    ({"parameters": {"blob": "x" * 16_400}}, "parameters"),
    ({"parameters": {"model": "gpt-4o"}}, "parameters"),
    ({"parameters": {"stop": ["END"], "max_tokens": 9000}}, "parameters"),
    ({"parameters": {"stream": False}}, "parameters"),
]


@pytest.mark.parametrize(("given", "field"), BAD_SETTINGS)
async def test_create_validates(gql, team, db_engine, given, field) -> None:
    """Given a setting out of bounds, when creating, then INVALID_INPUT on it and no row."""
    workspace, _, member, _, _ = team
    result = await create(gql, member, workspace, await llm(db_engine), **given)
    user_error(result, "INVALID_INPUT", ["input", field])
    assert await scalar(db_engine, "SELECT count(*) FROM agents") == 0


async def test_limits_are_inclusive(gql, team, db_engine) -> None:
    """Given values exactly at the limits, when creating, then the agent is accepted."""
    workspace, _, member, _, _ = team
    agent = await create(
        gql,
        member,
        workspace,
        await llm(db_engine),
        systemPrompt="s" * 32_000,
        temperature=2,
        topP=1,
        maxTokens=16_384,
    )
    assert (agent["temperature"], agent["topP"], agent["maxTokens"]) == ("2", "1", 16_384)


async def test_model_must_exist_and_be_active(gql, team, db_engine) -> None:
    """Given a retired model and an unknown one, when used as main or fallback, then
    MODEL_INACTIVE or NOT_FOUND on that field, and no row."""
    workspace, _, member, _, _ = team
    retired = await llm(db_engine, "gpt-4-turbo")
    await execute(db_engine, "UPDATE llms SET is_active = false WHERE model_id = 'gpt-4-turbo'")
    unknown = to_global_id("LLM", uuid.uuid4())
    active = await llm(db_engine)
    user_error(await create(gql, member, workspace, retired), "MODEL_INACTIVE", ["input", "llmId"])
    user_error(await create(gql, member, workspace, unknown), "NOT_FOUND", ["input", "llmId"])
    result = await create(gql, member, workspace, active, fallbackLlmId=retired)
    user_error(result, "MODEL_INACTIVE", ["input", "fallbackLlmId"])
    wrong_type = await create(gql, member, workspace, workspace["id"])
    user_error(wrong_type, "INVALID_ID", ["input", "llmId"])
    assert await scalar(db_engine, "SELECT count(*) FROM agents") == 0


async def test_project_must_be_in_the_workspace(gql, team, db_engine, make_workspace) -> None:
    """Given a project of another workspace of the same owner, when used, then NOT_FOUND."""
    workspace, owner, _, _, _ = team
    foreign = await project(gql, owner, await make_workspace(owner, "Second"))
    result = await create(gql, owner, workspace, await llm(db_engine), projectId=foreign["id"])
    user_error(result, "NOT_FOUND", ["input", "projectId"])
    assert await scalar(db_engine, "SELECT count(*) FROM agents") == 0


@pytest.mark.parametrize(
    ("who", "code"),
    [("viewer", "FORBIDDEN"), ("outsider", "NOT_FOUND"), ("anonymous", "UNAUTHENTICATED")],
)
async def test_denied_callers_cannot_create(gql, team, db_engine, who, code) -> None:
    """Given a viewer, an outsider or no login, when creating an agent, then refused and
    no row is written."""
    workspace, _, _, viewer, outsider = team
    actor = {"viewer": viewer, "outsider": outsider, "anonymous": None}[who]
    result = await create(gql, actor, workspace, await llm(db_engine))
    path = None if who == "anonymous" else ["input", "workspaceId"]
    user_error(result, code, path)
    assert await scalar(db_engine, "SELECT count(*) FROM agents") == 0


async def test_member_updates_agent(gql, team, db_engine) -> None:
    """Given an agent, when a member changes some settings and clears one, then only those
    change and the rest stays."""
    workspace, owner, member, _, _ = team
    agent = await create(gql, owner, workspace, await llm(db_engine), temperature=1, topP=0.5)
    result = await update(gql, member, agent, name="Renamed", temperature=None, maxTokens=100)
    assert result["__typename"] == "Agent", result
    assert (result["name"], result["temperature"], result["topP"]) == ("Renamed", None, "0.5")
    assert (result["maxTokens"], result["createdBy"]) == (100, {"id": owner.id})
    row = await stored(db_engine, agent)
    assert (row.name, row.temperature, row.max_tokens) == ("Renamed", None, 100)


async def test_switching_model_rechecks_max_tokens(gql, team, db_engine) -> None:
    """Given an agent allowed 10 000 tokens, when switched to a model writing at most 4 096,
    then INVALID_INPUT on maxTokens and the model stays."""
    workspace, owner, _, _, _ = team
    agent = await create(gql, owner, workspace, await llm(db_engine), maxTokens=10_000)
    result = await update(gql, owner, agent, llmId=await llm(db_engine, "gpt-3.5-turbo"))
    user_error(result, "INVALID_INPUT", ["input", "maxTokens"])
    sql = "SELECT l.model_id FROM agents a JOIN llms l ON l.id = a.llm_id"
    assert await scalar(db_engine, sql) == "gpt-4o"
    both = await update(
        gql, owner, agent, llmId=await llm(db_engine, "gpt-3.5-turbo"), maxTokens=4096
    )
    assert (both["llm"]["modelId"], both["maxTokens"]) == ("gpt-3.5-turbo", 4096)


@pytest.mark.parametrize(
    ("given", "code", "field"),
    [
        ({"name": ""}, "INVALID_INPUT", "name"),
        ({"topP": 0}, "INVALID_INPUT", "topP"),
        ({"parameters": "text"}, "INVALID_INPUT", "parameters"),
        ({"projectId": MISSING_PROJECT}, "NOT_FOUND", "projectId"),
    ],
)
async def test_update_validates(gql, team, db_engine, given, code, field) -> None:
    """Given an agent, when an update is invalid, then an error on that field and no change."""
    workspace, owner, _, _, _ = team
    agent = await create(gql, owner, workspace, await llm(db_engine))
    user_error(await update(gql, owner, agent, **given), code, ["input", field])
    assert (await stored(db_engine, agent)).name == "Helper"


@pytest.mark.parametrize(
    ("who", "code"),
    [("viewer", "FORBIDDEN"), ("outsider", "NOT_FOUND"), ("anonymous", "UNAUTHENTICATED")],
)
async def test_denied_callers_cannot_update(gql, team, db_engine, who, code) -> None:
    """Given an agent, when a viewer, outsider or anonymous caller renames it, then refused
    and the name stays."""
    workspace, owner, _, viewer, outsider = team
    agent = await create(gql, owner, workspace, await llm(db_engine))
    actor = {"viewer": viewer, "outsider": outsider, "anonymous": None}[who]
    path = None if who == "anonymous" else ["input", "id"]
    user_error(await update(gql, actor, agent, name="Taken"), code, path)
    assert (await stored(db_engine, agent)).name == "Helper"


async def set_status(gql, actor, agent: dict, operation: str) -> dict:
    data = await gql.op(operation, actor.token if actor else None, id=agent["id"])
    return data[operation[0].lower() + operation[1:]]


async def test_archive_and_restore(gql, team, db_engine) -> None:
    """Given two agents, when one is archived, then the default list hides it and the
    ARCHIVED list shows it; when restored, then it is listed again."""
    workspace, _, member, viewer, _ = team
    await create(gql, member, workspace, await llm(db_engine), name="Kept")
    agent = await create(gql, member, workspace, await llm(db_engine), name="Old")
    archived = await set_status(gql, member, agent, "ArchiveAgent")
    assert (archived["__typename"], archived["status"]) == ("Agent", "ARCHIVED")
    assert await agent_names(gql, viewer, workspace) == ["Kept"]
    assert await agent_names(gql, viewer, workspace, status="ARCHIVED") == ["Old"]
    assert await agent_names(gql, viewer, workspace, status=None) == ["Old", "Kept"]
    restored = await set_status(gql, member, agent, "RestoreAgent")
    assert restored["status"] == "ACTIVE"
    assert await agent_names(gql, viewer, workspace) == ["Old", "Kept"]


@pytest.mark.parametrize("operation", ["ArchiveAgent", "RestoreAgent"])
@pytest.mark.parametrize(
    ("who", "code"),
    [("viewer", "FORBIDDEN"), ("outsider", "NOT_FOUND"), ("anonymous", "UNAUTHENTICATED")],
)
async def test_denied_callers_cannot_change_status(
    gql, team, db_engine, operation, who, code
) -> None:
    """Given an agent, when a denied caller archives or restores it, then the status stays."""
    workspace, owner, _, viewer, outsider = team
    agent = await create(gql, owner, workspace, await llm(db_engine))
    actor = {"viewer": viewer, "outsider": outsider, "anonymous": None}[who]
    path = None if who == "anonymous" else ["id"]
    user_error(await set_status(gql, actor, agent, operation), code, path)
    assert (await stored(db_engine, agent)).status == "active"


async def test_workspace_agents_page_forward(gql, team, db_engine) -> None:
    """Given three agents, when paging two at a time, then newest first across pages."""
    workspace, owner, _, _, _ = team
    for name in ("A", "B", "C"):
        await create(gql, owner, workspace, await llm(db_engine), name=name)
    first = await gql.op("WorkspaceAgents", owner.token, workspaceId=workspace["id"], first=2)
    page = first["workspace"]["agents"]
    assert [e["node"]["name"] for e in page["edges"]] == ["C", "B"]
    assert (page["totalCount"], page["pageInfo"]["hasNextPage"]) == (3, True)
    after = page["pageInfo"]["endCursor"]
    rest = await agent_names(gql, owner, workspace, first=2, after=after)
    assert rest == ["A"]


async def test_project_agents(gql, team, db_engine) -> None:
    """Given agents in and outside a project, when listing the project's, then only its own."""
    workspace, owner, _, viewer, _ = team
    folder = await project(gql, owner, workspace)
    await create(gql, owner, workspace, await llm(db_engine), name="In", projectId=folder["id"])
    await create(gql, owner, workspace, await llm(db_engine), name="Out")
    data = await gql.op("ProjectAgents", viewer.token, projectId=folder["id"])
    agents = data["node"]["agents"]
    assert ([e["node"]["name"] for e in agents["edges"]], agents["totalCount"]) == (["In"], 1)


async def test_agent_node_is_visible_to_members_only(gql, team, db_engine) -> None:
    """Given an agent, when a viewer and an outsider refetch it, then only the viewer sees it."""
    workspace, owner, _, viewer, outsider = team
    agent = await create(gql, owner, workspace, await llm(db_engine))
    seen = (await gql.op("AgentNode", viewer.token, id=agent["id"]))["node"]
    assert (seen["__typename"], seen["name"], seen["llm"]) == ("Agent", "Helper", agent["llm"])
    assert (await gql.op("AgentNode", outsider.token, id=agent["id"]))["node"] is None
    assert (await gql.op("AgentNode", id=agent["id"]))["node"] is None
