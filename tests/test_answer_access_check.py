"""The access check of a ``messageStream`` subscribe: one statement reads the answer and
checks the viewer's membership, whatever the outcome."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from synapse_gql.chat.subscriptions import readable_answer
from synapse_gql.errors import InvalidInput, NotFound
from synapse_gql.gql.read_connection import ReadConnection
from tests.chat_helpers import new_conversation, send, wait_for
from tests.helpers import db_id, scalar


@dataclass
class _Viewer:
    id: uuid.UUID


class _Context:
    """What the check uses of a subscription's context: the viewer and per-use reads."""

    def __init__(self, app, user_id: uuid.UUID) -> None:
        self.viewer = _Viewer(user_id)
        self.reads = ReadConnection(app.state.synapse.db.read_engine, hold=False)

    def require_viewer(self) -> _Viewer:
        return self.viewer

    @property
    def sessions(self):
        return self.reads.session


async def _ended(engine, sql: str, answer: uuid.UUID) -> bool:
    return await scalar(engine, sql, id=answer) != "streaming"


def _user_id(account) -> uuid.UUID:
    try:
        return uuid.UUID(account.id)
    except ValueError:
        return db_id(account.id)


async def test_the_answer_check_is_one_statement_for_members_and_outsiders(
    gql, make_user, make_workspace, app, db_engine, sql_log
) -> None:
    """Given an answer, its workspace's owner passes the check, an outsider gets NOT_FOUND
    (as for an id that does not exist) and the question is refused as not an answer: each
    check runs one statement."""
    owner = await make_user("owner")
    outsider = await make_user("outsider")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(gql, owner, workspace)
    turn = await send(gql, owner, conversation, "hello")
    assert turn["__typename"] == "ChatTurn", turn
    answer = db_id(turn["assistantMessage"]["id"])
    question = db_id(turn["userMessage"]["id"])
    status = "SELECT status FROM messages WHERE id = :id"
    await wait_for(lambda: _ended(db_engine, status, answer))

    with sql_log() as log:
        checked = await readable_answer(_Context(app, _user_id(owner)), answer)  # type: ignore[arg-type]
    assert checked.id == answer
    assert log.count == 1, log.statements

    for user, message_id, error in (
        (outsider, answer, NotFound),
        (owner, uuid.uuid4(), NotFound),
        (owner, question, InvalidInput),
    ):
        with sql_log() as log, pytest.raises(error):
            await readable_answer(_Context(app, _user_id(user)), message_id)  # type: ignore[arg-type]
        assert log.count == 1, log.statements
