"""Statements before a model call: a budgeted ``sendMessage`` reads the model's price once
(the reservation prices the worst case with the period the call pays), and the history of
a conversation's first question does not read the conversation's edits."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.chat.history import prompt_for
from synapse_gql.llm import GenerationParams
from synapse_gql.models import LLM
from tests.budget_helpers import CALL_COST, MAX_TOKENS, budgets, price_the_mock, set_budget
from tests.chat_helpers import new_conversation, send, wait_for
from tests.helpers import db_id, fetch, scalar


def _reading(log, table: str) -> list[str]:
    return [s for s in log.statements if s.lstrip().upper().startswith("SELECT") and table in s]


async def _closed(engine: AsyncEngine, answer_id: str) -> bool:
    sql = "SELECT status FROM messages WHERE id = :id"
    return await scalar(engine, sql, id=db_id(answer_id)) != "streaming"


async def test_a_budgeted_send_reads_the_price_once_and_reserves_its_worst_case(
    gql, make_user, make_workspace, db_engine, sql_log
) -> None:
    """Given a hard-stop budget just under the call's worst case, the send is refused; at
    exactly the worst case it is answered, the price period having been read once, and
    the answer settles its reservation."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    mock = await price_the_mock(gql, db_engine, await make_user("root"))
    conversation = await new_conversation(gql, owner, workspace)
    under = CALL_COST - Decimal("0.0000000001")
    made = await set_budget(gql, owner, workspace, limit=str(under))
    assert made["__typename"] == "Budget", made
    refused = await send(gql, owner, conversation, "hello", model=mock, maxTokens=MAX_TOKENS)
    assert (refused["__typename"], refused["code"]) == ("UserError", "BUDGET_EXCEEDED")

    made = await set_budget(gql, owner, workspace, limit=str(CALL_COST))
    assert made["__typename"] == "Budget", made
    with sql_log() as log:
        turn = await send(gql, owner, conversation, "hello", model=mock, maxTokens=MAX_TOKENS)
        assert turn["__typename"] == "ChatTurn", turn
        await wait_for(lambda: _closed(db_engine, turn["assistantMessage"]["id"]))
    # The price in force is read once, by the send: the answer's metering charges the
    # period the send read (carried with the call), without reading it again.
    prices = _reading(log, "llm_prices")
    assert len(prices) == 1, log.statements
    assert "valid_to IS NULL" in prices[0], prices
    # The question and its answer are counted by one UPDATE of the conversation, which
    # locks its row before the budget's (metering's order), and the conversation is read
    # once: in the send, whose transaction ends before the generation starts (the answer's
    # close and metering come after, from the UPDATE of its content on).
    upper = [s.lstrip().upper() for s in log.statements]
    upper = upper[: next(i for i, s in enumerate(upper) if s.startswith("UPDATE MESSAGES SET CON"))]
    counts = [i for i, s in enumerate(upper) if s.startswith("UPDATE CONVERSATIONS SET MESSAGE_")]
    reserves = [i for i, s in enumerate(upper) if s.startswith("INSERT INTO BUDGET_USAGE")]
    assert (len(counts), len(reserves)) == (1, 1), upper
    assert counts[0] < reserves[0], upper
    reads = [s for s in upper if s.startswith("SELECT CONVERSATIONS.ID")]
    assert len(reads) == 1, upper

    [budget] = await budgets(gql, owner, workspace)
    assert (Decimal(budget["spent"]), Decimal(budget["reserved"])) == (CALL_COST, Decimal(0))


async def test_a_first_question_reads_no_edits_and_a_later_one_does(
    gql, make_user, make_workspace, db_engine, app, sql_log
) -> None:
    """Given a conversation, when the prompt of its first question is built, then the
    edits are not read (nothing earlier to filter); for the next question they are, and
    the earlier turn is in its prompt."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(gql, owner, workspace)
    first = await send(gql, owner, conversation, "first question")
    assert first["__typename"] == "ChatTurn", first
    await wait_for(lambda: _closed(db_engine, first["assistantMessage"]["id"]))
    second = await send(gql, owner, conversation, "second question")
    assert second["__typename"] == "ChatTurn", second
    await wait_for(lambda: _closed(db_engine, second["assistantMessage"]["id"]))

    state = app.state.synapse

    async def built(turn: dict):
        answer = db_id(turn["assistantMessage"]["id"])
        llm_id = await scalar(db_engine, "SELECT llm_id FROM messages WHERE id = :id", id=answer)
        async with state.db.transaction() as session:
            llm = await session.get_one(LLM, llm_id)
            with sql_log() as log:
                prompt = await prompt_for(
                    session,
                    db_id(turn["userMessage"]["id"]),
                    llm,
                    GenerationParams(model=llm.model_id),
                    None,
                    50,
                )
        return prompt, log

    first_prompt, first_log = await built(first)
    second_prompt, second_log = await built(second)
    assert [m.content for m in first_prompt.messages] == ["first question"]
    assert second_prompt.messages[0].content == "first question"
    assert second_prompt.messages[-1].content == "second question"
    edits = "original.id = messages.parent_id"
    assert not any(edits in s for s in first_log.statements), first_log.statements
    assert any(edits in s for s in second_log.statements), second_log.statements
    assert first_log.count == second_log.count - 1


async def test_a_budgeted_answer_sends_the_prompt_its_reservation_counted(
    gql, make_user, make_workspace, db_engine, sql_log
) -> None:
    """Given a conversation with one answered turn and a budget covering it, when the next
    question is sent, then its thread is read once (by the reservation, in the mutation)
    and the generation sends that prompt: no second read, no later write of its size, which
    the answer's row has from its insert."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    mock = await price_the_mock(gql, db_engine, await make_user("root"))
    conversation = await new_conversation(gql, owner, workspace)
    made = await set_budget(gql, owner, workspace, limit="1000")
    assert made["__typename"] == "Budget", made
    first = await send(gql, owner, conversation, "first question", model=mock)
    assert first["__typename"] == "ChatTurn", first
    await wait_for(lambda: _closed(db_engine, first["assistantMessage"]["id"]))

    with sql_log() as log:
        turn = await send(gql, owner, conversation, "second question", model=mock)
        assert turn["__typename"] == "ChatTurn", turn
        await wait_for(lambda: _closed(db_engine, turn["assistantMessage"]["id"]))

    thread_reads = [s for s in log.statements if "messages.role, messages.content" in s]
    assert len(thread_reads) == 1, thread_reads
    size_writes = [s for s in log.statements if "SET generation=" in s.replace(" = ", "=")]
    assert size_writes == [], size_writes
    sql = "SELECT (generation->>'prompt_tokens')::int FROM messages WHERE id = :id"
    tokens = await scalar(db_engine, sql, id=db_id(turn["assistantMessage"]["id"]))
    assert tokens is not None
    assert tokens > 0


async def test_a_refused_send_keeps_its_question_and_a_refused_regenerate_changes_nothing(
    gql, make_user, make_workspace, db_engine
) -> None:
    """Given an answered question and then a hard-stop budget with no room, when a new
    question is refused, then it is kept and counted alone (the answer counted in advance
    is taken back); when the answer is regenerated and refused, then the conversation's
    count and last message time stay as they were."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    mock = await price_the_mock(gql, db_engine, await make_user("root"))
    conversation = await new_conversation(gql, owner, workspace)
    first = await send(gql, owner, conversation, "first question", model=mock)
    assert first["__typename"] == "ChatTurn", first
    await wait_for(lambda: _closed(db_engine, first["assistantMessage"]["id"]))
    made = await set_budget(gql, owner, workspace, limit="0.0000000001")
    assert made["__typename"] == "Budget", made

    async def counted() -> tuple:
        sql = "SELECT message_count, last_message_at FROM conversations WHERE id = :id"
        found = await fetch(db_engine, sql, id=db_id(conversation["id"]))
        return tuple(found[0])

    refused = await send(gql, owner, conversation, "second question", model=mock)
    assert (refused["__typename"], refused["code"]) == ("UserError", "BUDGET_EXCEEDED")
    after_refusal = await counted()
    assert after_refusal[0] == 3
    given = {"messageId": first["assistantMessage"]["id"], "model": mock}
    again = (await gql.op("RegenerateMessage", owner.token, input=given))["regenerateMessage"]
    assert (again["__typename"], again["code"]) == ("UserError", "BUDGET_EXCEEDED")
    assert await counted() == after_refusal
