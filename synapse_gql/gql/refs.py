"""Lazy references between the features' GraphQL types.

Types refer to each other across packages (a Message has a Conversation, a Workspace
lists Conversations); ``strawberry.lazy`` breaks the import cycles. Keeping every
reference here means each one is written once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

if TYPE_CHECKING:
    from synapse_gql.accounts.types import UserType
    from synapse_gql.agents.types import AgentType
    from synapse_gql.billing.types import BillingEventType
    from synapse_gql.budgets.types import BudgetType
    from synapse_gql.conversations.types import ConversationType, MessageType
    from synapse_gql.dashboards.types import DashboardType
    from synapse_gql.feedback.types import FeedbackSummary, FeedbackType
    from synapse_gql.invoices.types import InvoiceStatusType, InvoiceType
    from synapse_gql.projects.types import ProjectType
    from synapse_gql.tags.types import TagType
    from synapse_gql.usage.types import UsageLogType
    from synapse_gql.variables.types import UserVariableType, WorkspaceSecretType
    from synapse_gql.workspaces.types import WorkspaceType

AgentRef = Annotated["AgentType", strawberry.lazy("synapse_gql.agents.types")]
BillingEventRef = Annotated["BillingEventType", strawberry.lazy("synapse_gql.billing.types")]
BudgetRef = Annotated["BudgetType", strawberry.lazy("synapse_gql.budgets.types")]
ConversationRef = Annotated["ConversationType", strawberry.lazy("synapse_gql.conversations.types")]
DashboardRef = Annotated["DashboardType", strawberry.lazy("synapse_gql.dashboards.types")]
FeedbackRef = Annotated["FeedbackType", strawberry.lazy("synapse_gql.feedback.types")]
FeedbackSummaryRef = Annotated["FeedbackSummary", strawberry.lazy("synapse_gql.feedback.types")]
InvoiceRef = Annotated["InvoiceType", strawberry.lazy("synapse_gql.invoices.types")]
InvoiceStatusRef = Annotated["InvoiceStatusType", strawberry.lazy("synapse_gql.invoices.types")]
MessageRef = Annotated["MessageType", strawberry.lazy("synapse_gql.conversations.types")]
ProjectRef = Annotated["ProjectType", strawberry.lazy("synapse_gql.projects.types")]
TagRef = Annotated["TagType", strawberry.lazy("synapse_gql.tags.types")]
UsageLogRef = Annotated["UsageLogType", strawberry.lazy("synapse_gql.usage.types")]
UserRef = Annotated["UserType", strawberry.lazy("synapse_gql.accounts.types")]
UserVariableRef = Annotated["UserVariableType", strawberry.lazy("synapse_gql.variables.types")]
WorkspaceRef = Annotated["WorkspaceType", strawberry.lazy("synapse_gql.workspaces.types")]
WorkspaceSecretRef = Annotated[
    "WorkspaceSecretType", strawberry.lazy("synapse_gql.variables.types")
]
ProjectTypeRef = ProjectRef
