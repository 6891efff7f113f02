"""Documents parsed and validated once per text.

The schema and its validation rules never change while the process runs, so a document
text parsed once need not be parsed again, and one found valid need not be validated
again. Parsed documents are held by text, least recently used first out, within a budget
of characters (a document's AST takes 100 to 200 bytes per character of its text):
documents over ``max_chars`` are never held, so a hostile document cannot crowd out the
ones clients send every second. A document that fails to parse or validate is never held
as valid: its refusal is computed again, with its typed code (``gql.limits``).

(Strawberry's ``ParserCache`` lets parse errors escape the extensions, and its
``ValidationCache`` keys on the parsed document, which differs per request unless the
parse is cached too.)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from graphql import DocumentNode
from strawberry.extensions import SchemaExtension


@dataclass
class KnownDocument:
    """A parsed document and whether it passed validation."""

    document: DocumentNode
    valid: bool = False


class DocumentCache:
    """Parsed documents by text, within ``budget_chars`` characters of text in all."""

    def __init__(self, max_chars: int, budget_chars: int) -> None:
        self.max_chars = max_chars
        self.budget_chars = budget_chars
        self._known: OrderedDict[str, KnownDocument] = OrderedDict()
        self._chars = 0

    def get(self, text: str | None) -> KnownDocument | None:
        known = self._known.get(text) if text is not None else None
        if known is not None:
            self._known.move_to_end(text)  # type: ignore[arg-type]
        return known

    def remember(self, text: str | None, document: DocumentNode) -> None:
        if text is None or len(text) > self.max_chars or text in self._known:
            return
        self._known[text] = KnownDocument(document)
        self._chars += len(text)
        while self._chars > self.budget_chars:
            evicted, _ = self._known.popitem(last=False)
            self._chars -= len(evicted)


def document_cache(max_chars: int, budget_chars: int) -> type[SchemaExtension]:
    """An extension skipping the parse of a known text and the validation of a text
    already found valid (which includes the depth, alias and token limits)."""
    cache = DocumentCache(max_chars, budget_chars)

    class CachedDocuments(SchemaExtension):
        def on_parse(self) -> Iterator[None]:
            context = self.execution_context
            known = cache.get(context.query)
            if known is not None:
                context.graphql_document = known.document  # Strawberry then skips parsing
            yield
            if known is None and context.graphql_document is not None:
                cache.remember(context.query, context.graphql_document)

        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            known = cache.get(context.query)
            if known is not None and known.document is not context.graphql_document:
                known = None  # a document not parsed from this text (persisted, replaced)
            if known is not None and known.valid:
                context.pre_execution_errors = []  # Strawberry then skips validation
            yield
            if known is not None and context.pre_execution_errors == []:
                known.valid = True

    return CachedDocuments
