"""The schema class: Strawberry's, with every operation's extension hooks built from a
cache of what each hook is (``gql.extension_hooks``) instead of inspected and wrapped
anew at every stage of every operation (most of what eight extensions cost a one-row
query)."""

from __future__ import annotations

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

from synapse_gql.gql.extension_hooks import CachedHooksRunner


class Schema(strawberry.Schema):
    """``strawberry.Schema`` whose operations run their extensions through
    :class:`CachedHooksRunner` (same hooks, same order, same exit stack)."""

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return CachedHooksRunner(execution_context=execution_context, extensions=extensions)


__all__ = ["Schema"]
