"""Run Alembic migrations from code (the CLI, server start-up and tests)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config

from synapse_gql.db import async_url

_REPO_ROOT = Path(__file__).resolve().parents[1]


def alembic_dir() -> Path:
    """The ``alembic/`` folder: ``SYNAPSE_ALEMBIC_DIR``, the source tree, or the CWD."""
    candidates = [
        os.environ.get("SYNAPSE_ALEMBIC_DIR"),
        _REPO_ROOT / "alembic",
        Path.cwd() / "alembic",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "env.py").exists():
            return Path(candidate)
    raise FileNotFoundError(
        "alembic/ not found: run from the repository root or set SYNAPSE_ALEMBIC_DIR."
    )


def alembic_config(database_url: str) -> Config:
    """An Alembic config bound to ``database_url`` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(alembic_dir()))
    config.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current_heads(database_url: str) -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
