"""Signed, short-lived links to a feedback dataset: who asked, which workspace, which
range and filters, signed with the server's keyring (no secret of its own)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from synapse_gql.security.keys import InvalidLink, Keyring

LINK_PURPOSE = "feedback-dataset"
LINK_TTL = timedelta(minutes=15)
ROUTE_PREFIX = "/datasets/feedback/"


@dataclass(frozen=True)
class DatasetRequest:
    """What one export covers: public feedback of ``workspace_id`` rated in
    ``start <= created_at < end``, optionally only of some projects and models."""

    user_id: uuid.UUID
    workspace_id: uuid.UUID
    start: datetime
    end: datetime
    project_ids: tuple[uuid.UUID, ...] = ()
    llm_ids: tuple[uuid.UUID, ...] = ()


def sign(keyring: Keyring, request: DatasetRequest) -> tuple[str, datetime]:
    """The link token of ``request`` and when it stops being accepted."""
    claims = {
        "sub": str(request.user_id),
        "ws": str(request.workspace_id),
        "from": request.start.timestamp(),
        "to": request.end.timestamp(),
        "p": [str(i) for i in request.project_ids],
        "m": [str(i) for i in request.llm_ids],
    }
    return keyring.issue_link_token(LINK_PURPOSE, claims, LINK_TTL)


def read(keyring: Keyring, token: str) -> DatasetRequest:
    """The request a link token carries; ``InvalidLink`` when forged, expired or malformed."""
    claims = keyring.read_link_token(token, LINK_PURPOSE)
    try:
        return DatasetRequest(
            user_id=uuid.UUID(claims["sub"]),
            workspace_id=uuid.UUID(claims["ws"]),
            start=datetime.fromtimestamp(claims["from"], UTC),
            end=datetime.fromtimestamp(claims["to"], UTC),
            project_ids=tuple(uuid.UUID(i) for i in claims["p"]),
            llm_ids=tuple(uuid.UUID(i) for i in claims["m"]),
        )
    except (KeyError, TypeError, ValueError):
        raise InvalidLink(expired=False) from None


def path_of(token: str) -> str:
    """The route path that serves the dataset of ``token``."""
    return f"{ROUTE_PREFIX}{token}.jsonl"
