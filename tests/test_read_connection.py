"""The request's read connection: returned to the pool when the request ends (answered,
refused or unauthenticated), never held by a subscription waiting for events, and a
connection broken by a database restart costs no request an error."""

from __future__ import annotations

from sqlalchemy import text

from synapse_gql.realtime import workspace_metrics_channel
from tests.chat_helpers import served, wait_for
from tests.helpers import db_id
from tests.ws_client import connect

NAME = "query Name($id: ID!) { node(id: $id) { ... on Workspace { name } } }"
TERMINATE_OTHERS = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


def checked_out(app) -> int:
    return app.state.synapse.db.engine.sync_engine.pool.checkedout()


async def test_the_connection_returns_when_the_request_ends(
    app, http, gql, make_user, make_workspace
) -> None:
    """Given a user, when a query is answered, a body is refused before parsing and a bad
    token is refused, then no connection stays checked out after any of them."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner, "W")
    body = await gql.query(NAME, {"id": workspace["id"]}, owner.token)
    assert body["data"]["node"] == {"name": "W"}
    assert checked_out(app) == 0
    headers = {"Authorization": f"Bearer {owner.token}", "Content-Type": "application/json"}
    refused = await http.post("/graphql", content=b"[]", headers=headers)
    assert refused.status_code == 400
    assert checked_out(app) == 0
    unauthenticated = await gql.raw(NAME, {"id": workspace["id"]}, "not-a-token")
    assert unauthenticated.status_code == 401
    assert checked_out(app) == 0


async def test_reads_survive_connections_broken_under_the_pool(
    app, gql, make_user, make_workspace, db_engine
) -> None:
    """Given pooled connections the server has closed (as a restart does), when the next
    requests arrive, then they are answered: the broken connection is replaced and the
    read sent again, without a ping before each checkout."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner, "W")
    async with db_engine.connect() as conn:
        terminated = (await conn.execute(text(TERMINATE_OTHERS))).scalar_one()
    assert terminated >= 1
    for _ in range(3):
        body = await gql.query(NAME, {"id": workspace["id"]}, owner.token)
        assert body == {"data": {"node": {"name": "W"}}, "extensions": body["extensions"]}
    assert checked_out(app) == 0


async def test_a_waiting_subscription_holds_no_connection(
    settings, make_user, make_workspace
) -> None:
    """Given a member subscribed to the workspace's usage (its access checked), while it
    waits for events, then no connection is checked out."""
    async with served(settings) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        channel = workspace_metrics_channel(db_id(workspace["id"]))
        broadcaster = server.app.state.synapse.realtime
        async with connect(server.ws_url, owner.token) as socket:
            await socket.start("LiveWorkspaceUsage", workspaceId=workspace["id"])

            async def subscribed() -> bool:
                return broadcaster.subscriber_count(channel) == 1

            await wait_for(subscribed)
            assert checked_out(server.app) == 0
