"""Query limits: depth, aliases, tokens and cost, read from the settings.

Every check is linear in the document's size. The rules are built once per schema, and
a document text is parsed once and, once found valid, not validated again
(``gql.document_cache``): documents of at most ``CACHED_DOCUMENT_CHARS`` characters, within
``CACHED_TEXT_CHARS`` characters of text in all (at most about 50 MB of syntax trees).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError, ValidationRule, get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from synapse_gql.config import Settings
from synapse_gql.gql.cost import cost_limiter, refuse_execution
from synapse_gql.gql.depth import QUERY_TOO_DEEP, document_limits_rule
from synapse_gql.gql.document_cache import document_cache
from synapse_gql.gql.http_request import MAX_VARIABLE_DEPTH, nested_deeper_than

CACHED_DOCUMENT_CHARS = 8192
CACHED_TEXT_CHARS = 256 * 1024


@dataclass(frozen=True)
class DocumentLimits:
    """The settings the schema's limit extensions are built from (each field is the
    setting of the same name)."""

    max_query_depth: int
    max_aliases: int
    max_query_tokens: int
    max_query_cost: int
    default_page_size: int

    @classmethod
    def of(cls, settings: Settings) -> DocumentLimits:
        """The limits configured in ``settings``."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


def limit_extensions(limits: DocumentLimits) -> list:
    """Extension classes enforcing ``limits``."""
    rules = (document_limits_rule(limits.max_query_depth, limits.max_aliases),)
    return [
        document_limiter(rules, limits.max_query_tokens),
        document_cache(CACHED_DOCUMENT_CHARS, CACHED_TEXT_CHARS),
        cost_limiter(limits.max_query_cost, limits.default_page_size),
    ]


def document_limiter(
    rules: tuple[type[ValidationRule], ...], max_tokens: int
) -> type[SchemaExtension]:
    """An extension adding ``rules`` and the token limit, and giving every refusal of
    the document (parse or validation error) an ``extensions.code``."""

    class DocumentLimiter(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            context = self.execution_context
            context.parse_options["max_tokens"] = max_tokens
            context.validation_rules = context.validation_rules + rules
            yield
            result = context.result
            errors = getattr(result, "errors", None)
            if result is not None and errors and result.data is None:
                result.errors = [typed_refusal(error) for error in errors]

        def on_execute(self) -> Iterator[None]:
            problem = request_problem(self.execution_context)
            if problem is not None:
                error = GraphQLError(problem, extensions={"code": "BAD_REQUEST"})
                refuse_execution(self.execution_context, error)
            yield

    return DocumentLimiter


def request_problem(context: ExecutionContext) -> str | None:
    """Why the operation cannot run as sent (over any transport), or None."""
    document = context.graphql_document
    # ``operation_name`` falls back to the first operation's name; the name the client
    # sent is the one that counts: never guess which of several operations was meant.
    sent = getattr(context, "_provided_operation_name", context.operation_name)
    if document is not None and get_operation_ast(document, sent) is None:
        return "Name the operation to run in `operationName`: the document has several."
    if nested_deeper_than(context.variables, MAX_VARIABLE_DEPTH):
        return f"`variables` is nested more than {MAX_VARIABLE_DEPTH} levels deep."
    return None


def typed_refusal(error: GraphQLError) -> GraphQLError:
    """``error`` with a code when it refuses the document itself (no path, no code)."""
    if error.path is not None or (error.extensions or {}).get("code"):
        return error
    original = error.original_error
    if isinstance(original, RecursionError):
        return GraphQLError(
            "The document is nested too deeply.", extensions={"code": QUERY_TOO_DEEP}
        )
    if original is not None and not isinstance(original, GraphQLError):
        return error
    return _copy(error, _refusal_code(error))


def _refusal_code(error: GraphQLError) -> str:
    if not isinstance(error, GraphQLSyntaxError):
        return "VALIDATION_FAILED"
    if "tokens. Parsing aborted" in error.message:
        return "TOO_MANY_TOKENS"
    if "nested too deeply" in error.message:
        return QUERY_TOO_DEEP
    return "PARSE_FAILED"


def _copy(error: GraphQLError, code: str) -> GraphQLError:
    # A copy: the validation cache shares its error objects between requests.
    extensions: dict[str, Any] = {**(error.extensions or {}), "code": code}
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        extensions=extensions,
    )
