"""Running a compiled query: the schema's execution context answers a query with one
statement when its operation has a SQL form, and with its resolvers otherwise.

Only the production of the data changes: parsing, validation, limits, the operation
guard, metrics, error masking and the release of the read connection are Strawberry
extensions around execution and run as for any operation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

import orjson
from graphql import GraphQLObjectType, OperationType
from graphql.execution.collect_fields import DeferUsage, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from synapse_gql.analytics.plain_fields import PlainFieldExecutionContext
from synapse_gql.compiled.compiler import Statement
from synapse_gql.compiled.plan import PLANS
from synapse_gql.compiled.registry import Unsupported
from synapse_gql.gql.read_connection import ReadConnection

log = logging.getLogger(__name__)


class CompiledExecutionContext(PlainFieldExecutionContext):
    """Queries with a SQL form run as one statement; everything else as before."""

    def execute_collected_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
        new_defer_usages: Sequence[DeferUsage],
    ) -> AwaitableOrValue[dict[str, Any]]:
        compiled = None if new_defer_usages else self.compiled_statement(grouped_field_set)
        if compiled is None:
            return super().execute_collected_root_fields(
                root_type, root_value, grouped_field_set, serially, new_defer_usages
            )
        return self._answer(compiled, root_type, root_value, grouped_field_set, serially)

    def compiled_statement(self, root_fields: GroupedFieldSet) -> tuple[str, list[Any]] | None:
        """The statement and parameters answering this request, or None: not a query,
        compiled reads off, an anonymous caller, a field without a SQL form, or an
        argument the resolvers would refuse."""
        if self.operation.operation is not OperationType.QUERY:
            return None
        context = self.context_value
        state = getattr(context, "state", None)
        viewer = getattr(context, "viewer", None)
        if state is None or viewer is None or not state.settings.compiled_reads:
            return None
        if getattr(context, "reads", None) is None:
            return None
        if not PLANS.compilable(self.schema, self.operation, self.fragments):
            return None
        statement = Statement(self, viewer.id, state.settings)
        try:
            text = statement.build(root_fields)
        except Unsupported:
            return None
        return text, statement.params.values

    async def _answer(
        self,
        compiled: tuple[str, list[Any]],
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
    ) -> dict[str, Any]:
        try:
            text = await run_statement(self.context_value.reads, *compiled)
        except DBAPIError:
            # The resolvers answer (and report a failing database as they always do).
            log.warning("compiled read failed; answering with resolvers", exc_info=True)
            data = super().execute_collected_root_fields(
                root_type, root_value, grouped_field_set, serially, ()
            )
            if self.is_awaitable(data):
                data = await data
            return cast("dict[str, Any]", data)
        answer: dict[str, Any] = orjson.loads(text)
        return answer


async def run_statement(reads: ReadConnection, text: str, params: Sequence[Any]) -> str:
    """The JSON text the statement returns, read over the request's connection."""

    async def read(connection: AsyncConnection) -> str:
        result = await connection.exec_driver_sql(text, tuple(params))
        value: str = result.scalar_one()
        return value

    return await reads.run(read)
