"""``GET /datasets/feedback/{token}.jsonl``: a workspace's public feedback as JSON Lines.

The signed link is the credential (it expires ``LINK_TTL`` after the mutation made it);
a request that also sends a bearer token must be its issuer's. At download the issuer must
still hold the usage role in the workspace. Refusals are typed like GraphQL errors: 401
``UNAUTHENTICATED`` for a forged, malformed or expired link or a bad bearer token, 403
``FORBIDDEN`` for another user's bearer token or a role lost since.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import select

from synapse_gql.accounts.auth import authenticate, bearer_token
from synapse_gql.datasets import links
from synapse_gql.datasets.export import dataset_lines
from synapse_gql.datasets.links import DatasetRequest
from synapse_gql.datasets.service import DATASET_ROLE
from synapse_gql.errors import ErrorCode, Unauthenticated
from synapse_gql.models import MemberRole, WorkspaceMember
from synapse_gql.security.keys import InvalidLink
from synapse_gql.state import AppState

router = APIRouter()


class Refused(Exception):
    """A request the route turns down with ``status`` and ``code``."""

    def __init__(self, status: int, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> JSONResponse:
        body = {"errors": [{"message": self.message, "extensions": {"code": self.code.value}}]}
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


@router.get("/datasets/feedback/{token}.jsonl", response_class=StreamingResponse)
async def feedback_dataset(token: str, request: Request) -> Response:
    """The dataset the link describes, one JSON object per line, streamed."""
    state: AppState = request.app.state.synapse
    try:
        wanted = await _allowed(state, token, request.headers.get("authorization"))
    except Refused as refusal:
        return refusal.response()
    return StreamingResponse(
        _stream(state, wanted),
        media_type="application/x-ndjson",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": 'attachment; filename="feedback.jsonl"',
        },
    )


async def _allowed(state: AppState, token: str, authorization: str | None) -> DatasetRequest:
    try:
        wanted = links.read(state.keyring, token)
    except InvalidLink as error:
        raise Refused(401, ErrorCode.UNAUTHENTICATED, str(error)) from None
    bearer = bearer_token(authorization)
    if bearer is not None:
        try:
            viewer = await authenticate(state, bearer)
        except Unauthenticated as error:
            raise Refused(401, ErrorCode.UNAUTHENTICATED, error.message) from None
        if viewer is None or viewer.id != wanted.user_id:
            raise Refused(403, ErrorCode.FORBIDDEN, "This link was made for another user.")
    role = await _role(state, wanted)
    if role is None or role.rank < DATASET_ROLE.rank:
        raise Refused(
            403, ErrorCode.FORBIDDEN, "Datasets need the member role or higher in the workspace."
        )
    return wanted


async def _role(state: AppState, wanted: DatasetRequest) -> MemberRole | None:
    stmt = select(WorkspaceMember.role).where(
        WorkspaceMember.workspace_id == wanted.workspace_id,
        WorkspaceMember.user_id == wanted.user_id,
    )
    async with state.db.read_engine.connect() as connection:
        return await connection.scalar(stmt)


async def _stream(state: AppState, wanted: DatasetRequest) -> AsyncIterator[bytes]:
    # Its own connection for as long as the download lasts (a server-side cursor needs a
    # transaction), returned when the response ends or the client goes away.
    async with state.db.engine.connect() as connection:
        async for line in dataset_lines(connection, wanted):
            yield line


__all__ = ["router"]
