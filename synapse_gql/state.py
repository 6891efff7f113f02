"""What lives for the life of the process: settings, database, keyring, LLM providers,
the realtime broadcaster, the delta log of streamed answers and the running generations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from synapse_gql.config import Settings
from synapse_gql.db import Database
from synapse_gql.llm.base import Provider
from synapse_gql.realtime import Broadcaster, StreamLog
from synapse_gql.security.keys import Keyring

if TYPE_CHECKING:
    from synapse_gql.accounts.guard import LoginGuard
    from synapse_gql.chat.manager import GenerationManager
    from synapse_gql.operations import Operations
    from synapse_gql.pipeline.meter import MeteredHook


@dataclass
class AppState:
    """Process-wide services shared by every request."""

    settings: Settings
    db: Database
    keyring: Keyring
    realtime: Broadcaster
    stream_log: StreamLog
    providers: dict[str, Provider] = field(default_factory=dict)
    # Run by the call pipeline right after each call is metered (pipeline.meter).
    metered_hooks: list[MeteredHook] = field(default_factory=list)
    generations: GenerationManager = field(init=False)
    login_guard: LoginGuard = field(init=False)
    operations: Operations = field(init=False)
