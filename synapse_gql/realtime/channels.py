"""Names of the pub/sub channels. Every publisher and subscriber builds names here, so the
spelling of a channel lives in one place."""

from __future__ import annotations

import uuid

PREFIX = "synapse"


def message_channel(message_id: uuid.UUID) -> str:
    """Token stream of one assistant message: ``synapse:message:<id>``."""
    return f"{PREFIX}:message:{message_id}"


def conversation_channel(conversation_id: uuid.UUID) -> str:
    """Events of one conversation (messages added, updated): ``synapse:conversation:<id>``."""
    return f"{PREFIX}:conversation:{conversation_id}"


def workspace_metrics_channel(workspace_id: uuid.UUID) -> str:
    """Usage metrics of one workspace: ``synapse:workspace-metrics:<id>``."""
    return f"{PREFIX}:workspace-metrics:{workspace_id}"


def control_channel() -> str:
    """Requests to every server process (stop a generation): ``synapse:control``."""
    return f"{PREFIX}:control"


def user_access_channel(user_id: uuid.UUID) -> str:
    """News that a user's rights changed (removed, demoted, token revoked, workspace
    deleted): ``synapse:user:<id>:access``. Holders of that user's sockets and
    subscriptions re-check them when a message arrives."""
    return f"{PREFIX}:user:{user_id}:access"


def workspace_alerts_channel(workspace_id: uuid.UUID) -> str:
    """Alerts of one workspace raised, acknowledged or resolved:
    ``synapse:workspace-alerts:<id>``."""
    return f"{PREFIX}:workspace-alerts:{workspace_id}"
