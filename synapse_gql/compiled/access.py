"""Authorization of compiled reads: the resolvers' own membership selects, as SQL text.

The predicates are not written twice. ``conversations.access.readable_workspaces`` (any
role: workspaces, conversations and messages by id) and ``usage.filters.viewer_workspaces``
(member or above: usage rows) are SQLAlchemy selects that the resolver path runs; here
they are compiled once, with the viewer's id left as a parameter, and embedded in the
compiled statement as ``IN (subquery)``.
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import Select, bindparam
from sqlalchemy.dialects import postgresql

from synapse_gql.compiled.sql import Params
from synapse_gql.conversations.access import readable_conversation_ids, readable_workspaces
from synapse_gql.models import MemberRole
from synapse_gql.usage.filters import viewer_workspaces
from synapse_gql.usage.queries import USAGE_ROLE

VIEWER = "compiled_viewer_id"
_ANY_ID = uuid.UUID(int=0)  # a value for compiling; every use binds the viewer's id
_PARAM = re.compile(r"%\(([^)]+)\)s")


@dataclass(frozen=True)
class Predicate:
    """A subquery of workspace ids, its constants and where the viewer's id goes."""

    template: str
    constants: dict[str, Any]

    def render(self, params: Params, viewer_id: Any) -> str:
        """The subquery, its parameters added to ``params``."""

        def placeholder(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == VIEWER:
                return params.shared("viewer", viewer_id, "uuid")
            value = self.constants[name]
            return params.add(value.value if isinstance(value, enum.Enum) else value, None)

        return "(" + _PARAM.sub(placeholder, self.template).replace("%%", "%") + ")"


def _compiled(stmt: Select[Any]) -> Predicate:
    compiled = stmt.compile(
        dialect=postgresql.dialect(paramstyle="pyformat"),
        compile_kwargs={"render_postcompile": True},
    )
    return Predicate(compiled.string, dict(compiled.params))


@cache
def readable() -> Predicate:
    """Workspaces the viewer may read (any role)."""
    return _compiled(readable_workspaces(cast(Any, bindparam(VIEWER, value=_ANY_ID))))


@cache
def usage_readable() -> Predicate:
    """Workspaces whose usage the viewer may read (``USAGE_ROLE`` or above)."""
    minimum: MemberRole = USAGE_ROLE
    return _compiled(viewer_workspaces(cast(Any, bindparam(VIEWER, value=_ANY_ID)), minimum))


@cache
def readable_conversations() -> Predicate:
    """Conversations the viewer may read (any role in their workspace)."""
    return _compiled(readable_conversation_ids(cast(Any, bindparam(VIEWER, value=_ANY_ID))))
