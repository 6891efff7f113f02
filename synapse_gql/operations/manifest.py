"""Trusted documents: the operations of ``schema/`` as an Apollo persisted query manifest.

The documents of ``schema/`` are read as one (as code generators read them): each
fragment is defined once, in any file, and each operation's body carries the fragments
it uses, transitively. A manifest entry's id is the SHA-256 of its body.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from graphql import (
    DefinitionNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    OperationDefinitionNode,
    parse,
    print_ast,
    visit,
)
from graphql.language import Visitor

from synapse_gql.errors import ConfigurationError
from synapse_gql.operations.persisted import document_hash

FORMAT = "apollo-persisted-query-manifest"


class _Spreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
        self.names.append(node.name.value)


def _spreads(node: DefinitionNode) -> list[str]:
    visitor = _Spreads()
    visit(node, visitor)
    return visitor.names


def _with_fragments(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> str:
    used: dict[str, FragmentDefinitionNode] = {}
    pending: list[DefinitionNode] = [operation]
    while pending:
        for name in _spreads(pending.pop()):
            if name in fragments and name not in used:
                used[name] = fragments[name]
                pending.append(fragments[name])
    return "\n\n".join(print_ast(d) for d in [operation, *used.values()])


def operations_of(directory: Path) -> dict[str, tuple[str, str]]:
    """Operation name -> (type, a document with the operation and its fragments)."""
    definitions = [
        definition
        for path in sorted(directory.glob("*.graphql"))
        for definition in parse(path.read_text()).definitions
    ]
    fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
    return {
        d.name.value: (d.operation.value, _with_fragments(d, fragments))
        for d in definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    }


def operation_documents(directory: Path) -> dict[str, str]:
    """Operation name -> its document (the operation and the fragments it uses)."""
    return {name: body for name, (_, body) in operations_of(directory).items()}


def build_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of every named operation of ``directory``'s ``.graphql`` files."""
    operations = [
        {"id": document_hash(body), "name": name, "type": kind, "body": body}
        for name, (kind, body) in sorted(operations_of(directory).items())
    ]
    return {"format": FORMAT, "version": 1, "operations": operations}


def load_manifest(path: Path) -> dict[str, str]:
    """Id -> body of a manifest file; ``ConfigurationError`` when it is not one, or when
    an id is not the SHA-256 of its body."""
    try:
        manifest = json.loads(path.read_text())
        if manifest.get("format") != FORMAT or manifest.get("version") != 1:
            raise ValueError(f"not an {FORMAT} of version 1")
        entries = {entry["id"]: entry["body"] for entry in manifest["operations"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigurationError(f"Trusted documents file {path}: {error}") from None
    for sha256, body in entries.items():
        if document_hash(body) != sha256:
            raise ConfigurationError(f"Trusted documents file {path}: {sha256} is not its body's")
    return entries
