"""The countTokens query: exact with tiktoken for OpenAI models, the estimate elsewhere."""

from __future__ import annotations

import math

import pytest

from synapse_gql.generation.counting import ESTIMATE_METHOD
from synapse_gql.gql.relay import to_global_id
from synapse_gql.llm import ChatMessage, count_tokens
from tests.generation_helpers import llm_global_id
from tests.gql_client import operation_documents
from tests.helpers import error_codes

TEXT = "Synapse counts tokens exactly for OpenAI models, and estimates the rest."


async def count(gql, token, **variables) -> dict:
    """The whole response body of the CountTokens operation."""
    response = await gql.raw(operation_documents()["CountTokens"], variables, token, "CountTokens")
    assert response.status_code == 200, response.text
    return response.json()


async def test_gpt4o_counts_exactly(gql, make_user, db_engine) -> None:
    """Given gpt-4o, when counting a text and a chat, then the counts are tiktoken's
    o200k_base counts (the chat with OpenAI's framing) and marked exact."""
    user = await make_user()
    gpt4o = await llm_global_id(db_engine, "gpt-4o")
    messages = [{"role": "SYSTEM", "content": "Be brief."}, {"role": "USER", "content": TEXT}]

    text_body = await count(gql, user.token, model=gpt4o, text=TEXT)
    chat_body = await count(gql, user.token, model=gpt4o, messages=messages)

    exact_text, _ = count_tokens("gpt-4o", "openai", TEXT)
    chat = [ChatMessage("system", "Be brief."), ChatMessage("user", TEXT)]
    exact_chat, _ = count_tokens("gpt-4o", "openai", chat)
    expected = {"exact": True, "method": "tiktoken:o200k_base"}
    assert text_body["data"]["countTokens"] == {"count": exact_text, **expected}
    assert chat_body["data"]["countTokens"] == {"count": exact_chat, **expected}
    assert exact_text != math.ceil(len(TEXT) / 4)
    assert (
        exact_chat
        == exact_text + 3 + 3 + 3 + 1 + 1 + count_tokens("gpt-4o", "openai", "Be brief.")[0]
    )


async def test_claude_is_estimated(gql, make_user, db_engine) -> None:
    """Given a Claude model, when counting, then ceil(chars / 4), + 4 per message, estimated."""
    user = await make_user()
    claude = await llm_global_id(db_engine, "claude-3-opus-20240229")
    messages = [{"role": "USER", "content": "abcdefghij"}, {"role": "ASSISTANT", "content": "ab"}]

    text_body = await count(gql, user.token, model=claude, text=TEXT)
    chat_body = await count(gql, user.token, model=claude, messages=messages)

    expected = {"exact": False, "method": ESTIMATE_METHOD}
    assert text_body["data"]["countTokens"] == {"count": math.ceil(len(TEXT) / 4), **expected}
    assert chat_body["data"]["countTokens"] == {"count": (3 + 4) + (1 + 4), **expected}


@pytest.mark.parametrize(
    ("variables", "path"),
    [
        ({}, ["text"]),
        ({"text": "a", "messages": [{"role": "USER", "content": "b"}]}, ["text"]),
        ({"text": "x" * 200_001}, ["text"]),
    ],
)
async def test_neither_or_both_inputs_is_invalid(
    gql, make_user, db_engine, variables, path
) -> None:
    """Given no input, both inputs or too long a text, then an INVALID_INPUT GraphQL error."""
    user = await make_user()
    gpt4o = await llm_global_id(db_engine, "gpt-4o")

    body = await count(gql, user.token, model=gpt4o, **variables)

    assert body["data"] is None
    assert error_codes(body) == ["INVALID_INPUT"]
    assert body["errors"][0]["extensions"]["path"] == path


async def test_unknown_model_anonymous_and_wrong_id(gql, make_user, db_engine) -> None:
    """Given a missing model, an anonymous caller and an id of another type, then NOT_FOUND,
    UNAUTHENTICATED and INVALID_ID."""
    user = await make_user()
    gpt4o = await llm_global_id(db_engine, "gpt-4o")
    missing = to_global_id("LLM", "00000000-0000-0000-0000-000000000000")  # type: ignore[arg-type]

    unknown = await count(gql, user.token, model=missing, text=TEXT)
    anonymous = await count(gql, None, model=gpt4o, text=TEXT)
    wrong = await count(gql, user.token, model=to_global_id("User", "0" * 32), text=TEXT)  # type: ignore[arg-type]

    assert error_codes(unknown) == ["NOT_FOUND"]
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    assert error_codes(wrong) == ["INVALID_ID"]
