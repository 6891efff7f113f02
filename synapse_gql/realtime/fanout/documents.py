"""Which subscribe documents go to the hub, parsed once per document text.

A document qualifies when the operation it names is a subscription selecting one root
field, one of the cache's fields (for the answer feeds, ``SHARED_FEED_FIELDS``), with no
directives at its root. Anything
else, and any text that does not parse, takes Strawberry's own path unchanged (so its
errors are exactly today's). The parsed document is kept and handed to the schema's
pipeline, which then skips parsing; validation is cached by ``gql.limits``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from graphql import DocumentNode, FieldNode, OperationType, get_operation_ast, parse

SHARED_FEED_FIELDS = frozenset({"messageStream"})
CACHED_DOCUMENTS = 512
CACHED_DOCUMENT_CHARS = 8192


@dataclass(frozen=True, slots=True)
class FeedDocument:
    """A parsed subscribe document whose root field is a shared one."""

    text: str
    document: DocumentNode
    root: FieldNode


class FeedDocuments:
    """The documents of the last ``CACHED_DOCUMENTS`` texts whose root field is one of
    ``fields`` (None: not one)."""

    def __init__(self, max_tokens: int, fields: frozenset[str]) -> None:
        self.max_tokens = max_tokens
        self.fields = fields
        self._parsed: OrderedDict[tuple[str, str | None], FeedDocument | None] = OrderedDict()

    def find(self, text: object, operation_name: object) -> FeedDocument | None:
        """The shared document of ``text`` (its operation ``operation_name``), or None."""
        if not isinstance(text, str) or len(text) > CACHED_DOCUMENT_CHARS:
            return None
        if operation_name is not None and not isinstance(operation_name, str):
            return None
        key = (text, operation_name)
        if key in self._parsed:
            self._parsed.move_to_end(key)
            return self._parsed[key]
        found = self._parse(text, operation_name)
        self._parsed[key] = found
        if len(self._parsed) > CACHED_DOCUMENTS:
            self._parsed.popitem(last=False)
        return found

    def _parse(self, text: str, operation_name: str | None) -> FeedDocument | None:
        try:
            document = parse(text, max_tokens=self.max_tokens)
        except Exception:  # refused by Strawberry's path with its own typed error
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
            return None
        selections = operation.selection_set.selections
        if len(selections) != 1 or not isinstance(selections[0], FieldNode):
            return None
        root = selections[0]
        if root.directives or root.name.value not in self.fields:
            return None
        return FeedDocument(text, document, root)
