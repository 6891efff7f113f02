"""Where the server's secret comes from. There is no default in code."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from synapse_gql.config import Settings
from synapse_gql.errors import ConfigurationError

MIN_SECRET_LENGTH = 32


def resolve_secret(settings: Settings) -> str:
    """Return the secret: configured, else (local install only) generated once and kept.

    A deployment with ``DATABASE_URL`` must set ``SYNAPSE_SECRET_KEY``: generating one
    per process would make every replica sign and encrypt with a different key.
    """
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value()
        if len(value) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"SYNAPSE_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters long."
            )
        return value
    if not settings.uses_embedded_database:
        raise ConfigurationError(
            "SYNAPSE_SECRET_KEY is not set. With DATABASE_URL the server does not generate "
            "a secret: set SYNAPSE_SECRET_KEY to a random string of at least "
            f"{MIN_SECRET_LENGTH} characters (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`) and use the same value on every replica."
        )
    return _load_or_create(settings.secret_file)


def _load_or_create(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once must not end up with different secrets.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value
