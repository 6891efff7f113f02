"""With every connection of the database pool taken, an HTTP request is answered at once
with the retryable ``TRY_AGAIN`` GraphQL error (503, ``Retry-After``), never a 500 after
the pool's 30-second timeout, and a question is refused ``TRY_AGAIN`` unsaved; once
connections are back, the same request succeeds."""

from __future__ import annotations

from contextlib import AsyncExitStack

from tests.chat_helpers import new_conversation, send, served
from tests.helpers import scalar

QUERY = "{ me { email } }"


async def test_a_request_that_cannot_get_a_connection_is_told_to_try_again(
    settings, make_user
) -> None:
    owner = await make_user("owner")
    # A pool of one connection plus one of overflow.
    async with served(settings, db_pool_size=1, request_wait_seconds=0.2) as server:
        engine = server.app.state.synapse.db.engine
        async with AsyncExitStack() as held:
            for _ in range(2):
                await held.enter_async_context(engine.connect())
            busy = await server.gql.raw(QUERY, token=owner.token)
        assert busy.status_code == 503, busy.text
        assert busy.headers["retry-after"] == "1"
        [error] = busy.json()["errors"]
        assert error["extensions"] == {"code": "TRY_AGAIN"}

        served_again = await server.gql.query(QUERY, token=owner.token)
        assert served_again["data"] == {"me": {"email": owner.email}}


async def test_a_question_that_cannot_get_a_connection_is_refused_unsaved(
    settings, make_user, make_workspace, db_engine
) -> None:
    """Given a caller whose token the process remembers and a pool with every connection
    taken, when they send a question, then ``TRY_AGAIN`` after ``request_wait_seconds``
    and nothing is saved; once connections are back, the same question is answered."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    changes = {"db_pool_size": 1, "request_wait_seconds": 0.3, "auth_cache_seconds": 60}
    async with served(settings, **changes) as server:
        conversation = await new_conversation(server.gql, owner, workspace)
        engine = server.app.state.synapse.db.engine
        async with AsyncExitStack() as held:
            for _ in range(2):
                await held.enter_async_context(engine.connect())
            busy = await send(server.gql, owner, conversation, "Are you there?")
        assert (busy["__typename"], busy["code"]) == ("UserError", "TRY_AGAIN"), busy
        assert "nothing was saved" in busy["message"]
        assert await scalar(db_engine, "SELECT count(*) FROM messages") == 0

        served_again = await send(server.gql, owner, conversation, "Are you there?")
        assert served_again["__typename"] == "ChatTurn", served_again
