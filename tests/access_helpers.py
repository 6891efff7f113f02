"""Arrangements for the subscription-rights tests: a team of every role, raw subscription
documents, and waiting for a socket's close."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from tests.chat_helpers import Served, new_conversation
from tests.conftest import Account
from tests.ws_client import TRANSPORT_WS, Operation, Socket

CLOSE_TIMEOUT = 20.0


@dataclass
class Team:
    """A workspace with an owner, a viewer, a member, a removed member and an outsider."""

    owner: Account
    viewer: Account
    member: Account
    removed: Account
    outsider: Account
    workspace: dict
    conversation: dict


async def make_team(server: Served, make_user, make_workspace, add_member) -> Team:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    viewer, member, removed = [await make_user(n) for n in ("viewer", "member", "removed")]
    await add_member(owner, workspace, viewer, "VIEWER")
    await add_member(owner, workspace, member, "MEMBER")
    await add_member(owner, workspace, removed, "MEMBER")
    await remove(server, owner, workspace, removed)
    conversation = await new_conversation(server.gql, owner, workspace)
    outsider = await make_user("outsider")
    return Team(owner, viewer, member, removed, outsider, workspace, conversation)


async def remove(server: Served, actor: Account, workspace: dict, user: Account) -> None:
    given = {"workspaceId": workspace["id"], "userId": user.id}
    data = await server.gql.op("RemoveMember", actor.token, input=given)
    assert data["removeMember"]["__typename"] == "Deleted", data


async def change_role(
    server: Served, actor: Account, workspace: dict, user: Account, role: str
) -> None:
    given = {"workspaceId": workspace["id"], "userId": user.id, "role": role}
    data = await server.gql.op("ChangeMemberRole", actor.token, input=given)
    assert data["changeMemberRole"]["__typename"] == "WorkspaceMember", data


async def start_raw(socket: Socket, query: str, **variables: Any) -> Operation:
    """Start a subscription document that is not one of ``schema/``'s."""
    op_id = f"raw-{len(socket._queues) + 1}"
    socket._queues[op_id] = asyncio.Queue()
    kind = "subscribe" if socket.protocol == TRANSPORT_WS else "start"
    payload = {"query": query, "variables": variables}
    await socket.ws.send(json.dumps({"id": op_id, "type": kind, "payload": payload}))
    return Operation(socket, op_id)


async def closed(socket: Socket) -> tuple[int | None, str | None]:
    """Wait for the server to close ``socket``; its close code and reason."""
    await asyncio.wait_for(socket.ws.wait_closed(), CLOSE_TIMEOUT)
    return socket.ws.close_code, socket.ws.close_reason


def pending(op: Operation) -> list[Any]:
    """What the operation received and nobody read yet (None marks its completion)."""
    queue = op.socket._queues[op.id]
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
