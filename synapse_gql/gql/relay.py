"""Relay global IDs and the ``Node`` interface.

A global ID is base64 of ``"TypeName:uuid"``. A well-formed ID of a type the caller
may not read resolves exactly like an ID that does not exist: to null.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import strawberry
from strawberry.types import Info

from synapse_gql.errors import DomainError, ErrorCode, InvalidInput

T = TypeVar("T")
NodeResolver = Callable[[Info, Sequence[uuid.UUID]], Awaitable[Sequence[Any]]]
_RESOLVERS: dict[str, NodeResolver] = {}


class InvalidGlobalId(DomainError):
    code = ErrorCode.INVALID_ID


def to_global_id(type_name: str, db_id: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(base64.b64encode(f"{type_name}:{db_id}".encode()).decode())


def from_global_id(
    value: str, expected: str | Sequence[str] | None = None, *, field: str | Sequence[str] = "id"
) -> tuple[str, uuid.UUID]:
    """Decode a global ID, checking its type; raises ``InvalidGlobalId`` with ``field``."""
    try:
        type_name, raw = base64.b64decode(value, validate=True).decode().split(":", 1)
        db_id = uuid.UUID(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidGlobalId(f"{value!r} is not a valid ID.", field=field) from None
    allowed = [expected] if isinstance(expected, str) else expected
    if allowed is not None and type_name not in allowed:
        wanted = " or ".join(allowed)
        raise InvalidGlobalId(
            f"Expected an ID of a {wanted}, got one of a {type_name}.", field=field
        )
    return type_name, db_id


def decode_id(value: str, expected: str, *, field: str | Sequence[str] = "id") -> uuid.UUID:
    """The database id inside a global ID of type ``expected``."""
    return from_global_id(value, expected, field=field)[1]


@strawberry.interface(description="An object with a globally unique ID (Relay).")
class Node:
    id: strawberry.ID


class LazyGlobalId:
    """The ``id`` of a node built by :func:`from_values` without one: encoded from its
    ``db_id`` when first read, so rows whose ``id`` is not selected never pay for it.

    A non-data descriptor: an ``id`` given to the constructor (stored on the instance)
    takes precedence, so the dataclass ``__init__`` keeps working unchanged.
    """

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __get__(self, node: Any, owner: type | None = None) -> Any:
        if node is None:
            return self
        value = to_global_id(self.type_name, node.db_id)
        node.__dict__["id"] = value
        return value


def lazy_global_id(type_name: str) -> Callable[[type[T]], type[T]]:
    """Class decorator (applied after ``@strawberry.type``): ``id`` is computed on read."""

    def decorate(cls: type[T]) -> type[T]:
        cls.id = LazyGlobalId(type_name)  # type: ignore[attr-defined]
        return cls

    return decorate


def orm_values(row: Any, columns: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    """``(attribute, value)`` pairs of a node read off the ORM object ``row`` (a row just
    written, an event's), for the node ``columns`` (attribute -> mapped column) describe."""
    return [(name, getattr(row, column.key)) for name, column in columns.items()]


def from_values(cls: type[T], values: Iterable[tuple[str, Any]]) -> T:
    """An instance of the Strawberry type ``cls`` holding ``values`` (attribute, value), without
    running its dataclass ``__init__``: the cheap way to turn a database row into a node.
    Only the attributes the request reads need to be present."""
    node = object.__new__(cls)
    node.__dict__.update(values)
    return node


def register_node(type_name: str, resolver: NodeResolver) -> None:
    """Declare how ``node(id:)`` loads objects of ``type_name`` (visible ones only)."""
    _RESOLVERS[type_name] = resolver


def check_node_count(ids: Sequence[strawberry.ID], maximum: int) -> None:
    """Refuse more than ``maximum`` ids in one ``nodes(ids:)`` call."""
    if len(ids) > maximum:
        raise InvalidInput(f"At most {maximum} ids per call, got {len(ids)}.", field="ids")


async def resolve_nodes(info: Info, ids: Sequence[strawberry.ID]) -> list[Any]:
    """Resolve many global IDs, batching per type; unknown or hidden ones are None."""
    decoded = [from_global_id(gid, field="ids") for gid in ids]
    results: dict[tuple[str, uuid.UUID], Any] = {}
    for type_name in {t for t, _ in decoded}:
        resolver = _RESOLVERS.get(type_name)
        if resolver is None:
            continue
        wanted = [db_id for t, db_id in decoded if t == type_name]
        for db_id, obj in zip(wanted, await resolver(info, wanted), strict=True):
            results[(type_name, db_id)] = obj
    return [results.get(key) for key in decoded]
