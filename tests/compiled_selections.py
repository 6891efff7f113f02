"""Selections generated over the part of the schema that has a SQL form: a seeded random
walk from ``node``, ``nodes``, ``workspace`` and ``workspaces`` through workspaces,
conversations, messages and usage rows, picking scalar fields, aliases, inline and named
fragments, ``@include``/``@skip`` on a variable, ``__typename`` and nested connections
with small pages (and now and then a field without a SQL form, so the fallback is
exercised too). The same seed always gives the same documents."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import Any

from graphql import GraphQLObjectType, get_named_type, is_leaf_type

from synapse_gql.schema import schema
from tests.compiled_support import Tenant, World

COMPILED_TYPES = ("Workspace", "Conversation", "Message", "UsageLog")
# Parent type -> connection field -> node type.
CONNECTIONS = {
    "Workspace": {"conversations": "Conversation", "usageLogs": "UsageLog"},
    "Conversation": {"messages": "Message"},
}
# Fields without a SQL form, picked now and then: (parent type, field, its selection).
FALLBACK_FIELDS = {
    "Workspace": ("owner", "{ id email }"),
    "Conversation": ("project", "{ id name }"),
    "Message": ("llm", "{ modelId }"),
    "UsageLog": ("workspace", "{ id slug }"),
}
MAX_DEPTH = 3


@cache
def leaf_fields(type_name: str) -> tuple[str, ...]:
    """Fields of ``type_name`` with a scalar or enum type and no required argument."""
    graphql_type = schema._schema.type_map[type_name]
    assert isinstance(graphql_type, GraphQLObjectType)
    return tuple(
        name
        for name, definition in graphql_type.fields.items()
        if is_leaf_type(get_named_type(definition.type))
        and not any(str(arg.type).endswith("!") for arg in definition.args.values())
    )


@dataclass
class Selection:
    """A document, its variables and the caller's token."""

    query: str
    variables: dict[str, Any]
    token: str | None


@dataclass
class _Walk:
    rng: random.Random
    world: World
    fragments: list[str] = field(default_factory=list)
    variables: dict[str, tuple[str, Any]] = field(default_factory=dict)  # name -> (type, value)
    names: int = 0

    def name(self, prefix: str) -> str:
        self.names += 1
        return f"{prefix}{self.names}"

    def flag(self) -> str:
        if "flag" not in self.variables:
            self.variables["flag"] = ("Boolean!", self.rng.random() < 0.5)
        return self.rng.choice([" @include(if: $flag)", " @skip(if: $flag)"])

    def maybe_directive(self) -> str:
        return self.flag() if self.rng.random() < 0.15 else ""

    def fields(self, type_name: str, depth: int, aliased_connections: bool = False) -> list[str]:
        """A selection set's items on ``type_name``."""
        rng = self.rng
        leaves = leaf_fields(type_name)
        items = []
        for leaf in rng.sample(leaves, k=min(len(leaves), rng.randint(1, 4))):
            alias = f"{self.name('a')}: " if rng.random() < 0.2 else ""
            items.append(f"{alias}{leaf}{self.maybe_directive()}")
        if rng.random() < 0.2:
            items.append("__typename")
        if depth < MAX_DEPTH:
            for connection, node_type in CONNECTIONS.get(type_name, {}).items():
                if rng.random() < 0.35:
                    alias = aliased_connections or rng.random() < 0.3
                    items.append(self.connection(connection, node_type, depth, alias))
        if rng.random() < 0.08:
            fallback, selection = FALLBACK_FIELDS[type_name]
            items.append(f"{fallback} {selection}")
        if rng.random() < 0.2:
            items.append(self.fragment(type_name, depth))
        return items

    def fragment(self, type_name: str, depth: int) -> str:
        """An inline fragment or the spread of a named one."""
        body = " ".join(self.fields(type_name, depth + 1, aliased_connections=True))
        if self.rng.random() < 0.5:
            return f"... on {type_name}{self.maybe_directive()} {{ {body} }}"
        name = self.name("F")
        self.fragments.append(f"fragment {name} on {type_name} {{ {body} }}")
        return f"...{name}{self.maybe_directive()}"

    def arguments(self, connection: str) -> str:
        """A small page, and now and then a time range or an order."""
        rng = self.rng
        args = []
        if rng.random() < 0.85:
            args.append(f"first: {rng.randint(1, 2)}")
        if connection == "usageLogs" and rng.random() < 0.3:
            since = self.world.start + timedelta(hours=rng.choice([0, 4, 9]))
            args.append(f'since: "{since.isoformat()}"')
        if connection == "usageLogs" and rng.random() < 0.2:
            until = self.world.start + timedelta(hours=rng.choice([6, 16]))
            args.append(f'until: "{until.isoformat()}"')
        if connection == "conversations" and rng.random() < 0.3:
            args.append(f"orderBy: {rng.choice(['LAST_ACTIVITY', 'CREATED'])}")
        return f"({', '.join(args)})" if args else ""

    def connection(self, connection: str, node_type: str, depth: int, alias: bool) -> str:
        """A connection field selecting some of totalCount, pageInfo, nodes and edges."""
        rng = self.rng
        parts = []
        if rng.random() < 0.4:
            parts.append("totalCount")
        if rng.random() < 0.4:
            info = ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor"]
            parts.append(f"pageInfo {{ {' '.join(rng.sample(info, rng.randint(1, 4)))} }}")
        if rng.random() < 0.5:
            parts.append(f"nodes {{ {' '.join(self.fields(node_type, depth + 1))} }}")
        if not parts or rng.random() < 0.4:
            cursor = "cursor " if rng.random() < 0.5 else ""
            node = " ".join(self.fields(node_type, depth + 1))
            parts.append(f"edges {{ {cursor}node {{ {node} }} }}")
        label = f"{self.name('c')}: " if alias else ""
        arguments = self.arguments(connection)
        return f"{label}{connection}{arguments}{self.maybe_directive()} {{ {' '.join(parts)} }}"

    def node_body(self, depth: int) -> str:
        types = self.rng.sample(COMPILED_TYPES, k=self.rng.randint(1, 3))
        inner = [f"... on {t} {{ {' '.join(self.fields(t, depth, True))} }}" for t in types]
        return " ".join(["__typename", "id", *inner] if self.rng.random() < 0.7 else inner)

    def root(self) -> str:
        rng, world = self.rng, self.world
        tenant = rng.choice([world.alpha, world.alpha, world.bravo])
        kind = rng.randrange(4)
        if kind == 0:
            self.variables["id"] = ("ID!", _some_id(rng, tenant))
            return f"node(id: $id) {{ {self.node_body(1)} }}"
        if kind == 1:
            ids = [_some_id(rng, rng.choice([world.alpha, world.bravo])) for _ in range(3)]
            self.variables["ids"] = ("[ID!]!", ids)
            return f"nodes(ids: $ids) {{ {self.node_body(1)} }}"
        if kind == 2:
            self.variables["id"] = ("ID", tenant.workspace)
            return f"workspace(id: $id) {{ {' '.join(self.fields('Workspace', 1))} }}"
        args = f"(first: {rng.randint(1, 3)})" if rng.random() < 0.7 else ""
        return f"workspaces{args} {{ {self.workspaces_body()} }}"

    def workspaces_body(self) -> str:
        node = " ".join(self.fields("Workspace", 1))
        extras = ["totalCount", "pageInfo { hasNextPage endCursor }"]
        return " ".join([*self.rng.sample(extras, self.rng.randint(0, 2)), f"nodes {{ {node} }}"])

    def document(self) -> str:
        body = self.root()
        declared = ", ".join(f"${name}: {kind}" for name, (kind, _) in self.variables.items())
        head = f"query Generated({declared})" if declared else "query Generated"
        return " ".join([f"{head} {{ {body} }}", *self.fragments])


def _some_id(rng: random.Random, tenant: Tenant) -> str:
    kind = rng.choice(["Workspace", "Conversation", "Conversation", "Message", "UsageLog"])
    return rng.choice(tenant.ids[kind])


def generated_selections(world: World, count: int, seed: int) -> list[Selection]:
    """``count`` documents from a walk seeded with ``seed``, each with a caller: mostly the
    first tenant's owner, sometimes its viewer or the other tenant's owner."""
    rng = random.Random(seed)
    callers = [world.alpha.owner.token] * 3 + [world.viewer.token, world.bravo.owner.token]
    made = []
    for _ in range(count):
        walk = _Walk(rng, world)
        query = walk.document()
        variables = {name: value for name, (_, value) in walk.variables.items()}
        made.append(Selection(query, variables, rng.choice(callers)))
    return made
