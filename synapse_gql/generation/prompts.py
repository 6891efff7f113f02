"""Checking what is sent to a model: a prompt or chat messages (exactly one), a system
prompt, sampling parameters within the model's limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from synapse_gql.errors import InvalidInput
from synapse_gql.llm import ChatMessage, GenerationParams
from synapse_gql.models import LLM

MAX_PROMPT_CHARS = 200_000


@dataclass(frozen=True, slots=True)
class Sampling:
    """The optional sampling settings of a call, as given."""

    temperature: Decimal | None = None
    max_tokens: int | None = None
    top_p: Decimal | None = None


def exactly_one(text: str | None, messages: Any, text_path: list[str], name: str) -> None:
    """INVALID_INPUT unless exactly one of ``text`` and ``messages`` is given."""
    if (text is None) == (messages is None):
        raise InvalidInput(f"Give exactly one of {name} and messages.", field=text_path)


def check_size(texts: Sequence[str], path: list[str]) -> None:
    """INVALID_INPUT when the texts hold more than ``MAX_PROMPT_CHARS`` characters in all."""
    if sum(len(t) for t in texts) > MAX_PROMPT_CHARS:
        raise InvalidInput(
            f"Prompts are limited to {MAX_PROMPT_CHARS} characters in all.", field=path
        )


def _not_blank(value: str, path: list[str]) -> str:
    if not value.strip():
        raise InvalidInput("Must not be empty.", field=path)
    return value


def chat(
    prompt: str | None,
    messages: Sequence[ChatMessage] | None,
    system_prompt: str | None,
) -> list[ChatMessage]:
    """The messages of a call: the system prompt first, then the prompt as a user message
    or the given messages (at least one of them from the user)."""
    exactly_one(prompt, messages, ["input", "prompt"], "prompt")
    if prompt is not None:
        turns = [ChatMessage("user", _not_blank(prompt, ["input", "prompt"]))]
    else:
        turns = list(messages or ())
        for message in turns:
            _not_blank(message.content, ["input", "messages"])
        if not any(m.role == "user" for m in turns):
            raise InvalidInput("Give at least one user message.", field=["input", "messages"])
    if system_prompt is not None and system_prompt.strip():
        turns.insert(0, ChatMessage("system", system_prompt))
    check_size(
        [m.content for m in turns], ["input", "prompt" if prompt is not None else "messages"]
    )
    return turns


def _bounded(value: Decimal, name: str, high: Decimal, *, open_low: bool) -> Decimal:
    too_low = value <= 0 if open_low else value < 0
    if not value.is_finite() or too_low or value > high:
        bound = "above 0" if open_low else "at least 0"
        raise InvalidInput(f"Must be {bound} and at most {high}.", field=["input", name])
    return value


def generation_params(llm: LLM, sampling: Sampling) -> GenerationParams:
    """The provider parameters, with each setting checked (maxTokens against the model)."""
    limit = llm.max_output_tokens
    if sampling.max_tokens is not None and not 1 <= sampling.max_tokens <= limit:
        raise InvalidInput(
            f"Must be between 1 and {limit}, the most this model writes per answer.",
            field=["input", "maxTokens"],
        )
    temperature = sampling.temperature
    if temperature is not None:
        temperature = _bounded(temperature, "temperature", Decimal(2), open_low=False)
    top_p = sampling.top_p
    if top_p is not None:
        top_p = _bounded(top_p, "topP", Decimal(1), open_low=True)
    return GenerationParams(
        model=llm.model_id, max_tokens=sampling.max_tokens, temperature=temperature, top_p=top_p
    )


def recorded_parameters(params: GenerationParams, system_prompt: bool) -> dict[str, Any]:
    """The parameters kept on the usage log: those given, as JSON numbers."""
    recorded: dict[str, Any] = {"system_prompt": system_prompt}
    if params.max_tokens is not None:
        recorded["max_tokens"] = params.max_tokens
    for name in ("temperature", "top_p"):
        value = getattr(params, name)
        if value is not None:
            recorded[name] = float(value)
    return recorded
