"""Input checks shared by the features, raising ``InvalidInput`` with a field path."""

from __future__ import annotations

import json
import re
from typing import Any

from synapse_gql.errors import InvalidInput

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def text(value: str, field: list[str], *, min_len: int = 1, max_len: int = 200) -> str:
    """Strip ``value`` and check its length."""
    value = value.strip()
    if not min_len <= len(value) <= max_len:
        raise InvalidInput(f"Must be between {min_len} and {max_len} characters long.", field=field)
    return value


def email(value: str, field: list[str]) -> str:
    """A normalised (lower-cased) email address."""
    value = value.strip().lower()
    if len(value) > 320 or not EMAIL_RE.match(value):
        raise InvalidInput("Not a valid email address.", field=field)
    return value


def slug(value: str, field: list[str]) -> str:
    if not SLUG_RE.match(value):
        raise InvalidInput(
            "A slug is 1 to 64 lower-case letters, digits and inner hyphens.", field=field
        )
    return value


def slugify(name: str) -> str:
    """A slug derived from a display name (may need a suffix to be unique)."""
    slug_value = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48]
    return slug_value or "workspace"


def json_object(value: Any, field: list[str], *, max_bytes: int = 16_384) -> dict[str, Any]:
    """A JSON object of at most ``max_bytes`` once serialised (UTF-8)."""
    if not isinstance(value, dict):
        raise InvalidInput("Must be a JSON object.", field=field)
    if len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()) > max_bytes:
        raise InvalidInput(f"Limited to {max_bytes} bytes of JSON.", field=field)
    return value
