"""The schema: every feature's Query and Mutation merged into one."""

from __future__ import annotations

import functools

import strawberry
from strawberry.tools import merge_types

from synapse_gql.accounts.mutations import AccountMutation
from synapse_gql.accounts.queries import AccountQuery
from synapse_gql.agents.mutations import AgentMutation
from synapse_gql.agents.queries import agent_connection  # noqa: F401  (registers nodes)
from synapse_gql.alerts.mutations import AlertMutation
from synapse_gql.alerts.queries import alert_connection  # noqa: F401  (registers nodes)
from synapse_gql.alerts.subscriptions import AlertSubscription
from synapse_gql.analytics.plain_fields import plain_bucket_resolvers
from synapse_gql.analytics.queries import AnalyticsQuery
from synapse_gql.analytics.stats import StatisticsQuery
from synapse_gql.billing.queries import billing_connection  # noqa: F401  (registers nodes)
from synapse_gql.budgets.mutations import BudgetMutation
from synapse_gql.catalog.mutations import CatalogMutation
from synapse_gql.catalog.queries import CatalogQuery
from synapse_gql.catalog.types import LLMType
from synapse_gql.chat.mutations import ChatMutation
from synapse_gql.chat.subscriptions import ChatSubscription
from synapse_gql.compiled.execution import CompiledExecutionContext
from synapse_gql.config import Settings
from synapse_gql.context import Info
from synapse_gql.conversations.mutations import ConversationMutation
from synapse_gql.conversations.queries import (  # noqa: F401  (registers nodes)
    conversation_connection,
)
from synapse_gql.dashboards.mutations import DashboardMutation
from synapse_gql.dashboards.queries import DashboardQuery
from synapse_gql.datasets.mutations import DatasetMutation
from synapse_gql.feedback import queries as feedback_nodes  # noqa: F401  (registers nodes)
from synapse_gql.feedback.mutations import FeedbackMutation
from synapse_gql.feedback.summary import FeedbackSummaryQuery
from synapse_gql.generation.mutations import GenerationMutation
from synapse_gql.generation.queries import GenerationQuery
from synapse_gql.gql.errors import DomainErrorHandler, ErrorMasking
from synapse_gql.gql.input_guard import InputGuard
from synapse_gql.gql.limits import DocumentLimits, limit_extensions
from synapse_gql.gql.read_connection import ReleaseReadConnection
from synapse_gql.gql.relay import Node, check_node_count, resolve_nodes
from synapse_gql.gql.scalars import SCALAR_OVERRIDES, literal_defaults
from synapse_gql.gql.schema_class import Schema
from synapse_gql.invoices.mutations import InvoiceMutation
from synapse_gql.invoices.queries import invoice_connection  # noqa: F401  (registers nodes)
from synapse_gql.metrics.subscriptions import MetricsSubscription
from synapse_gql.observability.extension import GraphQLMetrics
from synapse_gql.operations.guard import OperationGuard
from synapse_gql.operations.mutations import OperationsMutation
from synapse_gql.projects import queries as project_nodes  # noqa: F401  (registers nodes)
from synapse_gql.projects.mutations import ProjectMutation
from synapse_gql.projects.types import ProjectType
from synapse_gql.tags.mutations import TagMutation
from synapse_gql.tags.queries import tagged_connection  # noqa: F401  (registers nodes)
from synapse_gql.usage.queries import usage_connection  # noqa: F401  (registers nodes)
from synapse_gql.usage.subscriptions import UsageSubscription
from synapse_gql.variables.mutations import VariableMutation
from synapse_gql.variables.queries import VariableQuery
from synapse_gql.workspaces.mutations import WorkspaceMutation
from synapse_gql.workspaces.queries import WorkspaceQuery


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global ID; null when missing or not yours.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return (await resolve_nodes(info, [id]))[0]

    @strawberry.field(
        description="Objects by global IDs, in order; null where missing or not yours."
        " At most `SYNAPSE_MAX_NODES_IDS` ids (100 by default)."
    )
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        check_node_count(ids, info.context.state.settings.max_nodes_ids)
        return await resolve_nodes(info, ids)


Query = merge_types(
    "Query",
    (
        NodeQuery,
        AccountQuery,
        WorkspaceQuery,
        CatalogQuery,
        VariableQuery,
        GenerationQuery,
        AnalyticsQuery,
        StatisticsQuery,
        FeedbackSummaryQuery,
        DashboardQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AccountMutation,
        WorkspaceMutation,
        ProjectMutation,
        AgentMutation,
        ConversationMutation,
        ChatMutation,
        CatalogMutation,
        VariableMutation,
        TagMutation,
        FeedbackMutation,
        GenerationMutation,
        BudgetMutation,
        AlertMutation,
        InvoiceMutation,
        OperationsMutation,
        DatasetMutation,
        DashboardMutation,
    ),
)

Subscription = merge_types(
    "Subscription",
    (ChatSubscription, UsageSubscription, AlertSubscription, MetricsSubscription),
)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with limits from ``settings`` (defaults when None); built once per set
    of limits in a process (building takes a tenth of a second or more)."""
    settings = settings or Settings()
    return _schema_with(DocumentLimits.of(settings))


@functools.cache
def _schema_with(limits: DocumentLimits) -> strawberry.Schema:
    built = Schema(
        scalar_overrides=SCALAR_OVERRIDES,
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[ProjectType, LLMType],
        extensions=[
            ReleaseReadConnection,
            ErrorMasking,
            *limit_extensions(limits),
            InputGuard,
            GraphQLMetrics,
            OperationGuard,
        ],
        exception_handlers=[DomainErrorHandler()],
        execution_context_class=CompiledExecutionContext,
    )
    literal_defaults(built._schema)
    plain_bucket_resolvers(built._schema)
    return built


schema = build_schema(Settings(_env_file=None, database_url="postgresql://unused/for-export"))
