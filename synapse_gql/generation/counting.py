"""Token counts for the ``countTokens`` query: exact for OpenAI models, estimated elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from synapse_gql.generation.prompts import check_size, exactly_one
from synapse_gql.llm import ChatMessage, count_tokens
from synapse_gql.llm.tokens import encoding_name_for
from synapse_gql.models import LLM

ESTIMATE_METHOD = "estimate:ceil(chars/4)+4/message"


@dataclass(frozen=True, slots=True)
class TokenTally:
    """A count, whether it is exact, and how it was made."""

    count: int
    exact: bool
    method: str


def tally(llm: LLM, text: str | None, messages: Sequence[ChatMessage] | None) -> TokenTally:
    """Count ``text`` (plain) or ``messages`` (with their chat framing) for ``llm``.

    ``method`` is ``tiktoken:<encoding>`` when exact, else the estimate's formula.
    """
    exactly_one(text, messages, ["text"], "text")
    if text is not None:
        check_size([text], ["text"])
        count, exact = count_tokens(llm.model_id, llm.provider, text)
    else:
        items = list(messages or ())
        check_size([m.content for m in items], ["messages"])
        count, exact = count_tokens(llm.model_id, llm.provider, items)
    encoding = encoding_name_for(llm.model_id, llm.provider) if exact else None
    method = f"tiktoken:{encoding}" if encoding else ESTIMATE_METHOD
    return TokenTally(count, encoding is not None, method)
