"""Saved dashboards over HTTP: the default dashboard of a new workspace, create / update /
delete with typed errors, who reads and changes which dashboard, widget data equal to
running the widget's query directly, the per-widget cache, and documents refused at save."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from synapse_gql.dashboards.defaults import DEFAULT_WIDGETS
from synapse_gql.dashboards.variables import relative_time
from tests.analytics_data import Dimensions, insert_random_usage
from tests.helpers import db_id, execute, fetch, scalar, user_error

SUMMARY = """query Spend($workspaceId: ID!, $from: DateTime!, $to: DateTime!) {
  usageSummary(
    workspaceId: $workspaceId, filter: {from: $from, to: $to}, granularity: WEEK,
    groupBy: [MODEL]
  ) {
    ... on UsageSummary { buckets { start llmId calls cost latencyP50 } totals { calls cost } }
    ... on UserError { code message path }
  }
}"""
SUMMARY_VARIABLES = {"from": "2026-03-01T00:00:00+00:00", "to": "2026-04-15T00:00:00+00:00"}
PROJECTS = """query Projects($workspaceId: ID!) {
  workspace(id: $workspaceId) { projects { totalCount } }
}"""


def widget(operation: str, variables: dict | None = None, **more) -> dict:
    return {
        "title": more.pop("title", "Widget"),
        "operation": operation,
        "variables": variables or {},
        "chartKind": more.pop("chartKind", "TABLE"),
        **more,
    }


async def create(gql, account, workspace, widgets, *, name="Costs", shared=False) -> dict:
    payload = {"workspaceId": workspace["id"], "name": name, "shared": shared, "widgets": widgets}
    return (await gql.op("CreateDashboard", account.token, input=payload))["createDashboard"]


async def update(gql, account, dashboard_id, **changes) -> dict:
    payload = {"dashboardId": dashboard_id, **changes}
    return (await gql.op("UpdateDashboard", account.token, input=payload))["updateDashboard"]


async def read(gql, account, dashboard_id) -> dict | None:
    return (await gql.op("Dashboard", account.token, id=dashboard_id))["dashboard"]


async def listed(gql, account, workspace) -> list[str] | None:
    found = (await gql.op("WorkspaceDashboards", account.token, id=workspace["id"]))["workspace"]
    return None if found is None else [d["name"] for d in found["dashboards"]]


async def _team(make_user, make_workspace, add_member):
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    roles = {role: await make_user(role.lower()) for role in ("ADMIN", "MEMBER", "VIEWER")}
    for role, account in roles.items():
        await add_member(owner, workspace, account, role)
    return owner, workspace, roles


def test_relative_times_resolve_from_now_with_offset_and_truncation() -> None:
    """Given a moment, then `now`, offsets and truncations name the expected instants."""
    now = datetime(2026, 12, 17, 15, 42, 7, tzinfo=UTC)  # a Thursday
    assert relative_time("now", now) == now
    assert relative_time("now-90m", now) == datetime(2026, 12, 17, 14, 12, 7, tzinfo=UTC)
    assert relative_time("now-30d/d", now) == datetime(2026, 11, 17, tzinfo=UTC)
    assert relative_time("now/w", now) == datetime(2026, 12, 14, tzinfo=UTC)
    assert relative_time("now-1w/M", now) == datetime(2026, 12, 1, tzinfo=UTC)
    assert [relative_time(v, now) for v in ("later", "now-1y", "now+1d", "now/x")] == [None] * 4


async def test_a_new_workspace_starts_with_the_default_dashboard_and_its_data(
    gql, make_user, make_workspace
) -> None:
    """Given a new workspace, then its owner lists the shared default dashboard, whose four
    widgets answer without errors, and whose documents pass the checks of createDashboard."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    found = (await gql.op("WorkspaceDashboards", owner.token, id=workspace["id"]))["workspace"]
    [default] = found["dashboards"]
    assert (default["name"], default["shared"], default["owner"]["id"]) == (
        "Overview",
        True,
        owner.id,
    )
    dashboard = await read(gql, owner, default["id"])
    titles = [w["title"] for w in dashboard["widgets"]]
    assert titles == [spec.title for spec in DEFAULT_WIDGETS]
    for shown in dashboard["widgets"]:
        assert shown["data"]["errors"] == [], shown
        assert shown["data"]["result"], shown
        assert None not in shown["data"]["result"].values(), shown
    copies = [
        widget(s.operation, s.variables, title=s.title, chartKind=s.chart_kind.name)
        for s in DEFAULT_WIDGETS
    ]
    made = await create(gql, owner, workspace, copies)
    assert made["__typename"] == "Dashboard", made


async def test_widget_data_equals_running_its_query_directly_and_is_cached(
    gql, make_user, make_workspace, db_engine
) -> None:
    """Given usage in a workspace, when a dashboard's widgets run, then each result equals
    the data of the same query with the same variables sent directly; a second read within
    the cache time answers the cached result (a project made meanwhile is not counted), a
    widget cached for 0 seconds sees it, and replacing the widgets runs them afresh."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    llms = [
        (row.id, row.provider)
        for row in await fetch(db_engine, "SELECT id, provider FROM llms LIMIT 3")
    ]
    dims = Dimensions(db_id(workspace["id"]), [db_id(owner.id), None], [None], [None], [None], llms)
    await insert_random_usage(db_engine, random.Random(9), dims, 200)
    widgets = [
        widget(SUMMARY, SUMMARY_VARIABLES, chartKind="BAR"),
        widget(PROJECTS, chartKind="NUMBER"),
        widget(PROJECTS, cacheSeconds=0),
    ]
    made = await create(gql, owner, workspace, widgets)
    assert made["__typename"] == "Dashboard", made

    first = await read(gql, owner, made["id"])
    direct = await gql.query(
        SUMMARY, {**SUMMARY_VARIABLES, "workspaceId": workspace["id"]}, owner.token
    )
    assert "errors" not in direct, direct
    assert first["widgets"][0]["data"] == {**first["widgets"][0]["data"], "result": direct["data"]}
    assert direct["data"]["usageSummary"]["totals"]["calls"] == 200
    count = {"workspace": {"projects": {"totalCount": 0}}}
    assert [w["data"]["result"] for w in first["widgets"][1:]] == [count, count]

    project = {"workspaceId": workspace["id"], "name": "New"}
    assert (await gql.op("CreateProject", owner.token, input=project))["createProject"]["id"]
    again = await read(gql, owner, made["id"])
    assert again["widgets"][:2] == first["widgets"][:2]
    assert again["widgets"][2]["data"]["result"]["workspace"]["projects"]["totalCount"] == 1

    # A stored query the schema no longer accepts answers the error a request would get.
    sql = "UPDATE dashboard_widgets SET operation = 'query { gone }' WHERE position = 2"
    await execute(db_engine, sql)
    [error] = (await read(gql, owner, made["id"]))["widgets"][2]["data"]["errors"]
    assert error["code"] == "VALIDATION_FAILED", error

    replaced = await update(gql, owner, made["id"], widgets=[widget(PROJECTS)])
    assert [w["position"] for w in replaced["widgets"]] == [0]
    fresh = await read(gql, owner, made["id"])
    assert fresh["widgets"][0]["data"]["result"]["workspace"]["projects"]["totalCount"] == 1


async def test_who_reads_and_changes_which_dashboard(
    gql, make_user, make_workspace, add_member
) -> None:
    """Given a team and an outsider with a workspace of their own: a private dashboard is
    its owner's alone, a shared one is read by every member (viewers included) and changed
    by its owner or an admin (only the owner shares or unshares), a viewer cannot create one,
    and the outsider neither reads nor changes any."""
    _, workspace, roles = await _team(make_user, make_workspace, add_member)
    outsider = await make_user("outsider")
    await make_workspace(outsider)
    member, admin, viewer = roles["MEMBER"], roles["ADMIN"], roles["VIEWER"]
    private = await create(gql, member, workspace, [widget(PROJECTS)], name="Mine")
    shared = await create(gql, member, workspace, [widget(PROJECTS)], name="Ours", shared=True)

    assert await listed(gql, member, workspace) == ["Overview", "Mine", "Ours"]
    assert await listed(gql, admin, workspace) == ["Overview", "Ours"]
    assert await listed(gql, viewer, workspace) == ["Overview", "Ours"]
    assert await listed(gql, outsider, workspace) is None
    assert await read(gql, admin, private["id"]) is None
    assert await read(gql, outsider, shared["id"]) is None
    assert (await read(gql, viewer, shared["id"]))["name"] == "Ours"

    user_error(
        await update(gql, admin, private["id"], name="x"), "NOT_FOUND", ["input", "dashboardId"]
    )
    user_error(
        await update(gql, outsider, shared["id"], name="x"), "NOT_FOUND", ["input", "dashboardId"]
    )
    user_error(
        await update(gql, viewer, shared["id"], name="x"), "FORBIDDEN", ["input", "dashboardId"]
    )
    user_error(
        await update(gql, admin, shared["id"], shared=False), "FORBIDDEN", ["input", "shared"]
    )
    assert (await update(gql, admin, shared["id"], name="Team costs"))["name"] == "Team costs"
    refused = await create(gql, viewer, workspace, [], name="Nope")
    user_error(refused, "FORBIDDEN", ["input", "workspaceId"])
    hidden = await create(gql, outsider, workspace, [], name="Nope")
    user_error(hidden, "NOT_FOUND", ["input", "workspaceId"])

    gone = {"dashboardId": private["id"]}
    denied = await gql.op("DeleteDashboard", admin.token, input=gone)
    user_error(denied["deleteDashboard"], "NOT_FOUND", ["input", "dashboardId"])
    deleted = await gql.op("DeleteDashboard", member.token, input=gone)
    assert deleted["deleteDashboard"] == {"__typename": "Deleted", "id": private["id"]}
    assert await read(gql, member, private["id"]) is None
    assert await listed(gql, member, workspace) == ["Overview", "Team costs"]


async def test_invalid_widgets_are_refused_at_save_with_the_widget_field(
    gql, make_user, make_workspace, db_engine
) -> None:
    """Given a member, when a widget's document does not parse, is not valid against the
    schema, is not one query, reads widgets' data or costs too much, or its variables do not
    fit, then INVALID_INPUT names that widget's field, and nothing is saved or changed."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    at = ["input", "widgets", "1", "operation"]
    costly = (
        "query { workspaces(first: 100) { edges { node {"
        " projects(first: 100) { edges { node { conversations(first: 100) { totalCount } } } }"
        " } } } }"
    )
    refusals = [
        ("query {", at),
        ("query { nope }", at),
        ("mutation M { logout }", at),
        ("query A { me { id } } query B { me { id } }", at),
        ("query($id: ID!) { dashboard(id: $id) { widgets { data { result } } } }", at),
        (costly, at),
    ]
    for operation, path in refusals:
        refused = await create(
            gql, owner, workspace, [widget(PROJECTS), widget(operation, {"id": "x"})]
        )
        user_error(refused, "INVALID_INPUT", path)
    bad_variables = widget(SUMMARY, {"from": "yesterday", "to": "now"})
    user_error(
        await create(gql, owner, workspace, [bad_variables]),
        "INVALID_INPUT",
        ["input", "widgets", "0", "variables"],
    )
    not_object = {**widget(PROJECTS), "variables": [1]}
    user_error(
        await create(gql, owner, workspace, [not_object]),
        "INVALID_INPUT",
        ["input", "widgets", "0", "variables"],
    )
    assert await scalar(db_engine, "SELECT count(*) FROM dashboards") == 1  # the default

    made = await create(gql, owner, workspace, [widget(PROJECTS)])
    refused = await update(gql, owner, made["id"], widgets=[widget("query { nope }")])
    user_error(refused, "INVALID_INPUT", ["input", "widgets", "0", "operation"])
    kept = await read(gql, owner, made["id"])
    assert [w["operation"] for w in kept["widgets"]] == [PROJECTS]
