"""`Message.errorCode` and `UsageLog.errorCode` are `ErrorCode` values: every code the
server stores reads back as a member of the enum (a cancelled call as CANCELLED), and a
stored string no member matches reads as PROVIDER_ERROR instead of failing the field."""

from __future__ import annotations

import pytest

from synapse_gql.errors import ErrorCode, stored_error_code
from synapse_gql.llm import ProviderErrorCode
from tests.chat_helpers import new_conversation, send, served, wait_for
from tests.helpers import db_id, execute, fetch, scalar
from tests.ws_client import connect

# Tokens per second of the mock model: slow enough that the stop always lands mid-answer.
SLOW = 5
CODES = """
query Codes($message: ID!, $usage: ID!) {
  message: node(id: $message) { ... on Message { status errorCode } }
  usage: node(id: $usage) { ... on UsageLog { status errorCode } }
}
"""


def test_every_stored_code_reads_as_a_specific_error_code() -> None:
    """Given the codes messages (ErrorCode) and usage logs (ProviderErrorCode) store, when
    read back, then each is a member other than the catch-all; unknown strings are it."""
    assert all(stored_error_code(code.value) is code for code in ErrorCode)
    provider_codes = {code.value: stored_error_code(code.value) for code in ProviderErrorCode}
    assert ErrorCode.PROVIDER_ERROR not in provider_codes.values(), provider_codes
    assert provider_codes["CANCELLED"] is ErrorCode.CANCELLED
    assert provider_codes["RATE_LIMIT"] is ErrorCode.PROVIDER_RATE_LIMITED
    assert stored_error_code("SOMETHING_NEWER") is ErrorCode.PROVIDER_ERROR
    assert stored_error_code(None) is None


async def _stopped_answer(server, owner, workspace, db_engine) -> tuple[dict, str]:
    """An answer stopped mid-stream; it and the global id of its usage log."""
    conversation = await new_conversation(server.gql, owner, workspace)
    answer = (await send(server.gql, owner, conversation, "Stop me"))["assistantMessage"]
    async with connect(server.ws_url, owner.token) as socket:
        stream = await socket.start("MessageStream", messageId=answer["id"])
        first = await stream.next()  # the call is under way: a stop now cancels a real call
    assert first is not None
    assert first["messageStream"]["__typename"] == "MessageDelta", first
    stopped = await server.gql.op("StopGeneration", owner.token, input={"messageId": answer["id"]})
    assert stopped["stopGeneration"]["status"] == "CANCELLED", stopped

    async def usage_id() -> object:
        sql = "SELECT id FROM usage_logs WHERE message_id = :m"
        rows = await fetch(db_engine, sql, m=db_id(answer["id"]))
        return rows[0].id if rows else None

    found = await wait_for(usage_id)
    from synapse_gql.gql.relay import to_global_id

    return answer, to_global_id("UsageLog", found)


async def test_a_cancelled_call_reads_as_cancelled(
    settings, make_user, make_workspace, db_engine
) -> None:
    async with served(settings, mock_tokens_per_second=SLOW) as server:
        owner = await make_user("owner")
        answer, usage = await _stopped_answer(server, owner, await make_workspace(owner), db_engine)
        body = await server.gql.query(CODES, {"message": answer["id"], "usage": usage}, owner.token)

    assert "errors" not in body, body
    stored = await scalar(
        db_engine, "SELECT error_code FROM usage_logs WHERE message_id = :m", m=db_id(answer["id"])
    )
    assert stored == "CANCELLED"
    assert body["data"]["usage"] == {"status": "CANCELLED", "errorCode": "CANCELLED"}
    assert body["data"]["message"]["status"] == "CANCELLED"


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ("RATE_LIMIT", "PROVIDER_RATE_LIMITED"),
        ("GENERATION_INTERRUPTED", "GENERATION_INTERRUPTED"),
        ("A_CODE_FROM_ANOTHER_VERSION", "PROVIDER_ERROR"),
    ],
)
async def test_stored_strings_read_as_error_codes_and_never_fail(
    settings, make_user, make_workspace, db_engine, stored, read
) -> None:
    """Given a message and a usage log whose stored code is ``stored``, when read, then
    both fields answer ``read`` and the response has no error."""
    async with served(settings, mock_tokens_per_second=SLOW) as server:
        owner = await make_user("owner")
        answer, usage = await _stopped_answer(server, owner, await make_workspace(owner), db_engine)
        for table, key in (("messages", db_id(answer["id"])), ("usage_logs", db_id(usage))):
            await execute(
                db_engine, f"UPDATE {table} SET error_code = :c WHERE id = :i", c=stored, i=key
            )
        body = await server.gql.query(CODES, {"message": answer["id"], "usage": usage}, owner.token)

    assert "errors" not in body, body
    assert body["data"]["message"]["errorCode"] == read
    assert body["data"]["usage"]["errorCode"] == read
