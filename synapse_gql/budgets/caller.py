"""The API token the current request authenticated with, for API-token budgets.

Set by authentication for each request (None for access tokens), and inherited by the
tasks the request starts (an answer's generation), so reserving and metering both see it.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar

REQUEST_API_TOKEN: ContextVar[uuid.UUID | None] = ContextVar(
    "synapse_request_api_token", default=None
)


def request_api_token() -> uuid.UUID | None:
    """The API token of the current request, if it used one."""
    return REQUEST_API_TOKEN.get()
