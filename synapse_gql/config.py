"""The one settings class. Every variable has the ``SYNAPSE_`` prefix, except the
conventional ``DATABASE_URL`` and ``REDIS_URL`` (the prefixed names work too)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """Per-user data directory holding the embedded database and the generated secret."""
    return Path(platformdirs.user_data_dir("synapse-gql", appauthor=False))


class Settings(BaseSettings):
    """Runtime configuration, read from the environment (and an optional ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="SYNAPSE_", env_file=".env", extra="ignore", populate_by_name=True
    )

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("SYNAPSE_DATABASE_URL", "DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("SYNAPSE_REDIS_URL", "REDIS_URL")
    )
    data_dir: Path = Field(default_factory=default_data_dir)
    secret_key: SecretStr | None = None
    previous_secret_keys: list[SecretStr] = Field(default_factory=list)

    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    # Observability: log lines as JSON or text (auto: JSON unless stderr is a terminal);
    # a bearer token that /metrics requires (unset: open); where worker processes share
    # metric values (unset: ``PROMETHEUS_MULTIPROC_DIR``, else ``data_dir/metrics``); the
    # OTLP/HTTP endpoint traces go to (``OTEL_EXPORTER_OTLP_ENDPOINT`` works too).
    log_format: Literal["auto", "json", "text"] = "auto"
    metrics_token: SecretStr | None = None
    metrics_dir: Path | None = None
    otlp_endpoint: str | None = None
    graphiql: bool = True
    allow_registration: bool = True
    access_token_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # An HTTP request's access token and its account are remembered this long (0: read the
    # account on every request): an account disabled, deleted or changed in the database
    # is seen by HTTP requests at most this late. WebSockets always re-read the account.
    auth_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    invitation_ttl_hours: int = Field(default=72, ge=1, le=24 * 90)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # Logins and sign-ups: hashing threads; failed logins per account (backoff, then a
    # lock) and per client address in a window; registrations per address per hour.
    # ``trusted_proxies`` (IPs or networks) may name the client in X-Forwarded-For.
    password_hash_workers: int = Field(default=2, ge=1, le=64)
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=50, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    login_lock_seconds: int = Field(default=900, ge=1)
    login_backoff_seconds: float = Field(default=1.0, ge=0)
    registrations_per_address_per_hour: int = Field(default=20, ge=1)
    trusted_proxies: list[str] = Field(default_factory=list)

    max_page_size: int = Field(default=100, ge=1, le=1000)
    default_page_size: int = Field(default=20, ge=1, le=1000)
    max_query_depth: int = Field(default=12, ge=2)
    max_aliases: int = Field(default=30, ge=1)
    max_query_tokens: int = Field(default=4000, ge=100)
    max_query_cost: int = Field(default=50_000, ge=1)
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    # Queries made only of fields with a SQL form run as one statement that builds the
    # response in PostgreSQL (``synapse_gql.compiled``); off, every query runs its resolvers.
    compiled_reads: bool = True
    # ``nodes(ids:)`` takes at most this many ids (each is also counted in the cost).
    max_nodes_ids: int = Field(default=100, ge=1, le=10_000)
    # Open WebSockets per user and per client address (shared through Redis when set), and
    # operations per socket; over a socket limit the socket closes with 4429.
    max_sockets_per_user: int = Field(default=50, ge=1)
    max_sockets_per_address: int = Field(default=200, ge=1)
    max_subscriptions_per_socket: int = Field(default=100, ge=1)
    # Frames waiting to be written to one WebSocket; a socket whose queue stays at this
    # bound for ``slow_consumer_seconds`` (or reaches four times it while its writes have
    # stopped going through) is closed with 4408.
    subscription_send_queue: int = Field(default=4096, ge=1)
    slow_consumer_seconds: float = Field(default=5.0, gt=0)
    # An HTTP request whose caller cannot be authenticated within this (every pooled
    # connection taken) is answered 503 ``TRY_AGAIN`` with ``Retry-After``; a question
    # whose transaction gets no connection within it is refused ``TRY_AGAIN`` unsaved.
    request_wait_seconds: float = Field(default=5.0, gt=0)
    # Subscription set-ups (the access check at subscribe time) running at once in a process
    # (unset: ``db_pool_size``, half the pool's connections); the rest wait in order, at
    # most ``subscribe_queue_limit`` of them. A set-up not done within
    # ``subscribe_timeout_seconds`` (waiting included) is refused with TRY_AGAIN.
    max_concurrent_subscribe: int | None = Field(default=None, ge=1)
    subscribe_queue_limit: int = Field(default=5_000, ge=0)
    subscribe_timeout_seconds: float = Field(default=5.0, gt=0)
    # Query cost points per minute for each anonymous address, user (login token) and API
    # token (an API token's own limit, set through `setApiTokenRateLimit`, replaces the
    # last); model calls per minute per user or API token. Shared through Redis when set.
    rate_limit_anonymous_points: int = Field(default=1_000, ge=1)
    rate_limit_user_points: int = Field(default=20_000, ge=1)
    rate_limit_api_token_points: int = Field(default=50_000, ge=1)
    rate_limit_model_calls: int = Field(default=60, ge=1)
    rate_limit_exempt_admins: bool = False
    # Persisted operations: documents registered by hash (Redis when set, else an LRU of
    # this many documents); trusted documents: off, log (run unknown ones, logged) or only.
    persisted_queries_max_documents: int = Field(default=1000, ge=1)
    persisted_queries_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    trusted_documents: Literal["off", "log", "only"] = "off"
    trusted_documents_file: Path | None = None
    trusted_documents_exempt_admins: bool = False
    # Under ``only``: let operations made only of introspection fields run (GraphiQL).
    trusted_documents_allow_introspection: bool = False

    # LLM providers: base URLs by provider (JSON; overrides the built-in ones), the
    # server-wide API keys (used when neither the user nor the workspace has one).
    provider_base_urls: dict[str, str] = Field(default_factory=dict)
    openai_api_key: SecretStr | None = None
    anthropic_api_key: SecretStr | None = None
    google_api_key: SecretStr | None = None
    xai_api_key: SecretStr | None = None
    deepseek_api_key: SecretStr | None = None
    meta_api_key: SecretStr | None = None
    mock_provider_enabled: bool = True
    mock_tokens_per_second: float = Field(default=40, ge=0)
    llm_connect_timeout: float = Field(default=10, gt=0)
    llm_first_token_timeout: float = Field(default=60, gt=0)
    llm_total_timeout: float = Field(default=300, gt=0)
    llm_retry_attempts: int = Field(default=3, ge=1, le=10)

    # Conversations: the model used when neither the request, the agent nor the workspace
    # names one ("provider/model_id"); how streamed answers are kept and recovered.
    default_model: str = "mock/synapse-dev"
    history_max_messages: int = Field(default=500, ge=1, le=10_000)
    stream_checkpoint_seconds: float = Field(default=2.0, gt=0)
    stale_generation_seconds: float = Field(default=60.0, gt=0)
    stale_sweep_seconds: float = Field(default=30.0, gt=0)
    # Each serving process renews its lease this often; a process whose lease is this old
    # is taken for dead and its streaming answers are closed by any live process (long
    # beside the heartbeat, so that a busy process that renews late is not taken for dead).
    worker_heartbeat_seconds: float = Field(default=1.0, gt=0)
    worker_lease_seconds: float = Field(default=15.0, gt=0)
    stream_retention_seconds: int = Field(default=3600, ge=60)
    stop_wait_seconds: float = Field(default=5.0, gt=0)

    # Provider health alerts: the calls of the last window per workspace and provider are
    # judged after a metered call that could breach a quiet rule, and otherwise at most once
    # per ``alert_check_seconds`` (0: after every call); a rule breaches over at least the
    # minimum number of calls.
    alert_window_seconds: int = Field(default=300, ge=10, le=86_400)
    alert_min_calls: int = Field(default=20, ge=1)
    alert_error_rate_percent: int = Field(default=25, ge=1, le=100)
    alert_latency_p95_ms: int = Field(default=10_000, ge=1)
    alert_check_seconds: float = Field(default=10.0, ge=0, le=3600)

    @property
    def uses_embedded_database(self) -> bool:
        """True when no database URL is configured and a local PostgreSQL is started."""
        return not self.database_url

    @cached_property
    def pgdata_dir(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def secret_file(self) -> Path:
        return self.data_dir / "secret_key"
