"""What a stream's own reads cost: the answer as committed now and its usage log are each
one statement in autocommit, with no BEGIN and ROLLBACK around them."""

from __future__ import annotations

from synapse_gql.chat.streams import fresh_message, last_usage_log
from synapse_gql.models import MessageStatus
from tests.chat_helpers import new_conversation, send, wait_for
from tests.helpers import db_id, scalar


async def test_an_answers_fresh_state_and_usage_are_read_without_a_transaction(
    gql, make_user, make_workspace, db_engine, app, sql_log
) -> None:
    """Given an answered question, when a stream reads the answer as committed and the
    usage log that metered it, then two statements are sent and no transaction statement,
    and both reflect the committed answer."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(gql, owner, workspace)
    turn = await send(gql, owner, conversation, "hello")
    assert turn["__typename"] == "ChatTurn", turn
    answer_id = db_id(turn["assistantMessage"]["id"])

    async def metered() -> bool:
        sql = "SELECT count(*) FROM usage_logs WHERE message_id = :id"
        return await scalar(db_engine, sql, id=answer_id) == 1

    await wait_for(metered)
    state = app.state.synapse
    with sql_log() as log:
        message = await fresh_message(state, answer_id)
        usage_id = await last_usage_log(state, answer_id)
    assert message is not None
    assert message.status is MessageStatus.COMPLETED
    sql = "SELECT id FROM usage_logs WHERE message_id = :id"
    assert usage_id == await scalar(db_engine, sql, id=answer_id)
    assert (log.count, log.transaction_statements) == (2, [])
