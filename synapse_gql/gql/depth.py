"""Depth and alias limits computed in time linear in the document's size.

Fragments are measured once each and the result is reused at every spread, so a
document whose fragments spread each other many times over (``F0`` spreads ``F1``
four times, ``F1`` spreads ``F2`` four times, ...) costs as much to check as it is
long, not as large as its expansion. Counts still follow the expansion: an alias in a
fragment spread four times counts four times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"


class DocumentShape:
    """Depth and alias count of a document's operations, fragments memoised by name.

    A fragment being measured counts 0 where it spreads itself again: cycles are
    reported by the standard ``NoFragmentCycles`` rule, not here.
    """

    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._depths: dict[str, int] = {}
        self._aliases: dict[str, int] = {}
        self._open: set[str] = set()

    def depth(self, selections: SelectionSetNode) -> int:
        """Fields with a selection set nested in ``selections`` (leaves and ``__*`` add 0)."""
        deepest = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                ignored = selection.name.value.startswith("__") or not selection.selection_set
                found = 0 if ignored else 1 + self.depth(selection.selection_set)  # type: ignore[arg-type]
            elif isinstance(selection, InlineFragmentNode):
                found = self.depth(selection.selection_set)
            else:
                found = self._fragment(
                    cast(FragmentSpreadNode, selection), self._depths, self.depth
                )
            deepest = max(deepest, found)
        return deepest

    def aliases(self, selections: SelectionSetNode) -> int:
        """Aliased fields in ``selections`` with every spread expanded."""
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += selection.alias is not None
                if selection.selection_set is not None:
                    total += self.aliases(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += self.aliases(selection.selection_set)
            else:
                total += self._fragment(
                    cast(FragmentSpreadNode, selection), self._aliases, self.aliases
                )
        return total

    def _fragment(
        self,
        spread: FragmentSpreadNode,
        memo: dict[str, int],
        measure: Callable[[SelectionSetNode], int],
    ) -> int:
        name = spread.name.value
        if name in memo:
            return memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self._open:
            return 0  # unknown fragments and cycles are other rules' errors
        self._open.add(name)
        try:
            memo[name] = measure(fragment.selection_set)
        finally:
            self._open.discard(name)
        return memo[name]


def document_limits_rule(max_depth: int, max_aliases: int) -> type[ValidationRule]:
    """A validation rule refusing operations deeper than ``max_depth`` and documents with
    more than ``max_aliases`` aliases. Build it once: the validation cache keys on it."""

    class DocumentLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            try:
                self._check(context)
            except RecursionError:
                message = "The document is nested too deeply to be analysed."
                context.report_error(GraphQLError(message, extensions={"code": QUERY_TOO_DEEP}))

        def _check(self, context: ValidationContext) -> None:
            shape = DocumentShape(context.document)
            operations = [
                d for d in context.document.definitions if isinstance(d, OperationDefinitionNode)
            ]
            for operation in operations:
                if shape.depth(operation.selection_set) > max_depth:
                    name = operation.name.value if operation.name else "anonymous"
                    message = f"'{name}' exceeds maximum operation depth of {max_depth}"
                    extensions = {"code": QUERY_TOO_DEEP}
                    context.report_error(GraphQLError(message, operation, extensions=extensions))
            total = sum(shape.aliases(operation.selection_set) for operation in operations)
            if total > max_aliases:
                message = f"{total} aliases found. Allowed: {max_aliases}"
                context.report_error(GraphQLError(message, extensions={"code": TOO_MANY_ALIASES}))

    return DocumentLimits
