"""What lives for the life of the process: settings, database, keyring, LLM providers."""

from __future__ import annotations

from dataclasses import dataclass, field

from synapse_gql.config import Settings
from synapse_gql.db import Database
from synapse_gql.llm.base import Provider
from synapse_gql.security.keys import Keyring


@dataclass
class AppState:
    """Process-wide services shared by every request."""

    settings: Settings
    db: Database
    keyring: Keyring
    providers: dict[str, Provider] = field(default_factory=dict)
