"""With every connection of the database pool taken, an HTTP request is answered at once
with the retryable ``TRY_AGAIN`` GraphQL error (503, ``Retry-After``), never a 500 after
the pool's 30-second timeout; once connections are back, the same request succeeds."""

from __future__ import annotations

from contextlib import AsyncExitStack

from tests.chat_helpers import served

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
