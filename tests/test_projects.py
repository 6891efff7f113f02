"""Projects: create, update, archive and restore inside a workspace, by role."""

from __future__ import annotations

import pytest

from synapse_gql.gql.relay import decode_id
from tests.helpers import fetch, scalar, user_error


async def create(gql, actor, workspace: dict, name: str = "Alpha", **extra) -> dict:
    given = {"workspaceId": workspace["id"], "name": name, **extra}
    return (await gql.op("CreateProject", actor.token, input=given))["createProject"]


async def update(gql, actor, project: dict, **changes) -> dict:
    given = {"id": project["id"], **changes}
    return (await gql.op("UpdateProject", actor.token, input=given))["updateProject"]


async def names(gql, actor, workspace: dict, include_archived: bool = False) -> list[str]:
    """Project names as ``workspace.projects`` lists them, newest first."""
    data = await gql.op(
        "Projects", actor.token, workspaceId=workspace["id"], includeArchived=include_archived
    )
    return [e["node"]["name"] for e in data["workspace"]["projects"]["edges"]]


async def stored(db_engine, project: dict):
    """The project's row straight from the database."""
    sql = "SELECT name, description, status FROM projects WHERE id = :id"
    [row] = await fetch(db_engine, sql, id=decode_id(project["id"], "Project"))
    return row


@pytest.fixture
async def team(make_user, make_workspace, add_member):
    """A workspace with an owner, a member and a viewer."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    member, viewer = await make_user("member"), await make_user("viewer")
    await add_member(owner, workspace, member, "MEMBER")
    await add_member(owner, workspace, viewer, "VIEWER")
    return workspace, owner, member, viewer


async def test_member_creates_project(gql, team) -> None:
    """Given a member, when they create a project, then it is active, theirs and listed."""
    workspace, _, member, viewer = team
    project = await create(gql, member, workspace, " Alpha ", description="First one")
    assert project["__typename"] == "Project"
    assert (project["name"], project["description"]) == ("Alpha", "First one")
    assert project["status"] == "ACTIVE"
    assert project["createdBy"] == {"id": member.id}
    assert project["workspace"] == {"id": workspace["id"]}
    assert await names(gql, viewer, workspace) == ["Alpha"]


async def test_viewer_cannot_create(gql, team, db_engine) -> None:
    """Given a viewer, when they create a project, then FORBIDDEN and no row is written."""
    workspace, _, _, viewer = team
    user_error(await create(gql, viewer, workspace), "FORBIDDEN", ["input", "workspaceId"])
    assert await scalar(db_engine, "SELECT count(*) FROM projects") == 0


async def test_project_is_a_node(gql, team) -> None:
    """Given a project, when a viewer refetches it by ID, then it resolves with its fields."""
    workspace, owner, _, viewer = team
    project = await create(gql, owner, workspace)
    query = """query ($id: ID!) { node(id: $id) { ... on Project {
      id name createdBy { id } workspace { id slug viewerRole } } } }"""
    body = await gql.query(query, {"id": project["id"]}, viewer.token)
    node = body["data"]["node"]
    assert (node["id"], node["name"], node["createdBy"]["id"]) == (project["id"], "Alpha", owner.id)
    assert node["workspace"] == {
        "id": workspace["id"],
        "slug": workspace["slug"],
        "viewerRole": "VIEWER",
    }


async def test_member_updates_project(gql, team, db_engine) -> None:
    """Given a project, when a member renames and describes it, then both change."""
    workspace, owner, member, _ = team
    project = await create(gql, owner, workspace)
    result = await update(gql, member, project, name="Beta", description="Renamed")
    assert (result["__typename"], result["name"], result["description"]) == (
        "Project",
        "Beta",
        "Renamed",
    )
    assert result["createdBy"] == {"id": owner.id}
    row = await stored(db_engine, project)
    assert (row.name, row.description) == ("Beta", "Renamed")


async def test_update_keeps_unset_fields(gql, team) -> None:
    """Given a described project, when only the name changes, then the description stays."""
    workspace, owner, _, _ = team
    project = await create(gql, owner, workspace, description="Keep me")
    result = await update(gql, owner, project, name="Gamma")
    assert (result["name"], result["description"]) == ("Gamma", "Keep me")


async def test_viewer_cannot_update(gql, team, db_engine) -> None:
    """Given a viewer, when they rename a project, then FORBIDDEN and nothing changes."""
    workspace, owner, _, viewer = team
    project = await create(gql, owner, workspace)
    user_error(await update(gql, viewer, project, name="Nope"), "FORBIDDEN", ["input", "id"])
    assert (await stored(db_engine, project)).name == "Alpha"


@pytest.mark.parametrize(
    ("given", "path"),
    [
        ({"name": ""}, ["input", "name"]),
        ({"name": "   "}, ["input", "name"]),
        ({"name": "x" * 201}, ["input", "name"]),
        ({"name": "Ok", "description": "d" * 5001}, ["input", "description"]),
    ],
)
async def test_create_validates(gql, team, db_engine, given, path) -> None:
    """Given a member, when the name or description is out of bounds, then INVALID_INPUT
    and no row."""
    workspace, _, member, _ = team
    result = await create(gql, member, workspace, **given)
    user_error(result, "INVALID_INPUT", path)
    assert await scalar(db_engine, "SELECT count(*) FROM projects") == 0


@pytest.mark.parametrize("name", ["", "  ", "y" * 201])
async def test_update_validates_name(gql, team, db_engine, name) -> None:
    """Given a project, when renamed to a blank or too long name, then INVALID_INPUT and
    the old name stays."""
    workspace, _, member, _ = team
    project = await create(gql, member, workspace)
    user_error(await update(gql, member, project, name=name), "INVALID_INPUT", ["input", "name"])
    assert (await stored(db_engine, project)).name == "Alpha"


async def test_name_of_200_characters_is_fine(gql, team) -> None:
    """Given the limit of 200 characters, when a name has exactly 200, then it is kept."""
    workspace, _, member, _ = team
    project = await create(gql, member, workspace, "z" * 200)
    assert project["name"] == "z" * 200


async def set_status(gql, actor, project: dict, operation: str) -> dict:
    data = await gql.op(operation, actor.token, id=project["id"])
    return data[operation[0].lower() + operation[1:]]


async def test_archive_hides_and_restore_shows(gql, team) -> None:
    """Given two projects, when one is archived, then only includeArchived lists it; when
    restored, then it is listed again."""
    workspace, _, member, _ = team
    await create(gql, member, workspace, "Kept")
    project = await create(gql, member, workspace, "Old")
    archived = await set_status(gql, member, project, "ArchiveProject")
    assert (archived["__typename"], archived["status"]) == ("Project", "ARCHIVED")
    assert await names(gql, member, workspace) == ["Kept"]
    assert await names(gql, member, workspace, include_archived=True) == ["Old", "Kept"]
    restored = await set_status(gql, member, project, "RestoreProject")
    assert restored["status"] == "ACTIVE"
    assert await names(gql, member, workspace) == ["Old", "Kept"]


async def test_archived_count_follows_filter(gql, team) -> None:
    """Given an archived project, when counting, then totalCount follows includeArchived."""
    workspace, owner, _, _ = team
    await set_status(gql, owner, await create(gql, owner, workspace), "ArchiveProject")
    for include, expected in ((False, 0), (True, 1)):
        data = await gql.op(
            "Projects", owner.token, workspaceId=workspace["id"], includeArchived=include
        )
        assert data["workspace"]["projects"]["totalCount"] == expected


@pytest.mark.parametrize("operation", ["ArchiveProject", "RestoreProject"])
async def test_viewer_cannot_change_status(gql, team, db_engine, operation) -> None:
    """Given a viewer, when they archive or restore, then FORBIDDEN and the status stays."""
    workspace, owner, _, viewer = team
    project = await create(gql, owner, workspace)
    user_error(await set_status(gql, viewer, project, operation), "FORBIDDEN", ["id"])
    assert (await stored(db_engine, project)).status == "active"


async def test_projects_stay_in_their_workspace(gql, team, make_workspace) -> None:
    """Given two workspaces of one owner, when listing one, then only its projects show."""
    workspace, owner, _, _ = team
    other = await make_workspace(owner, "Other")
    await create(gql, owner, workspace, "Here")
    await create(gql, owner, other, "There")
    assert await names(gql, owner, workspace) == ["Here"]
    assert await names(gql, owner, other) == ["There"]
