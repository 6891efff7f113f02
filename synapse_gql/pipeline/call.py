"""Step two of a call: the provider call with retries, and what a failure means."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from synapse_gql.errors import DomainError
from synapse_gql.generation.calls import CallOutcome, CallRun
from synapse_gql.generation.failures import provider_failure
from synapse_gql.generation.providers import llm_timeouts
from synapse_gql.llm import ChatMessage, ProviderError, ProviderErrorCode, key_variable
from synapse_gql.pipeline.plan import ModelChoice
from synapse_gql.state import AppState

# Errors after which the fallback model is tried (when no token has arrived).
FALLBACK_ON = {
    ProviderErrorCode.UNAVAILABLE,
    ProviderErrorCode.TIMEOUT,
    ProviderErrorCode.RATE_LIMIT,
}


def start_call(
    state: AppState,
    choice: ModelChoice,
    messages: Sequence[ChatMessage],
    on_token: Callable[[str], None] | None = None,
) -> CallRun:
    """The call of ``choice`` with the server's retries and timeouts (run ``execute()``)."""
    return CallRun(
        choice.provider,
        messages,
        choice.params,
        choice.key.value,
        attempts=state.settings.llm_retry_attempts,
        timeouts=llm_timeouts(state.settings),
        on_token=on_token,
    )


def needs_fallback(outcome: CallOutcome) -> bool:
    """True when a call failed before its first token in a way another model may not."""
    error = outcome.error
    return error is not None and not outcome.text and error.code in FALLBACK_ON


def failure(choice: ModelChoice, error: ProviderError) -> DomainError:
    """The typed error of ``choice``'s failed call, naming where its key came from."""
    provider = choice.llm.provider
    return provider_failure(error, provider, choice.key.source, key_variable(provider))
