"""What lives for the life of the process: settings, database, keyring, LLM providers,
the realtime broadcaster, the delta log of streamed answers and the running generations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from synapse_gql.config import Settings
from synapse_gql.dashboards.cache import WidgetCache
from synapse_gql.db import Database
from synapse_gql.llm.base import Provider
from synapse_gql.realtime import Broadcaster, StreamLog
from synapse_gql.security.keys import Keyring

if TYPE_CHECKING:
    from synapse_gql.accounts.guard import LoginGuard
    from synapse_gql.accounts.token_cache import TokenCache
    from synapse_gql.chat.manager import GenerationManager
    from synapse_gql.metrics.live import LiveMetrics
    from synapse_gql.operations import Operations
    from synapse_gql.pipeline.meter import MeteredHook
    from synapse_gql.realtime.admission import SubscribeAdmission
    from synapse_gql.realtime.fanout.hub import FeedHub


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
    # Subscription set-ups running and queued (realtime.admission; made on first use).
    subscribe_admission: SubscribeAdmission | None = field(default=None, init=False)
    # Shared feeds of streamed answers (realtime.fanout; made with the first subscriber).
    feed_hub: FeedHub | None = field(default=None, init=False)
    # Live workspace metrics: tickers and subscriber groups (metrics.live; made on first use).
    live_metrics: LiveMetrics | None = field(default=None, init=False)
    # Access tokens of HTTP requests recently checked (accounts.auth; made on first use).
    access_tokens: TokenCache | None = field(default=None, init=False)
    # Results of dashboard widgets per widget and viewer (dashboards.execution).
    widget_cache: WidgetCache = field(default_factory=WidgetCache, init=False)
