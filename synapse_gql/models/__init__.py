"""Every ORM model, imported so that ``Base.metadata`` is complete: Alembic's target metadata."""

from synapse_gql.models.accounts import ApiToken, User
from synapse_gql.models.agents import Agent, AgentStatus
from synapse_gql.models.analytics import UsageRollup, UsageRollupDaily, UsageRollupMonthly
from synapse_gql.models.base import Base
from synapse_gql.models.billing import (
    BillingEvent,
    BillingEventType,
    BillingStatus,
)
from synapse_gql.models.budgets import (
    AlertEvent,
    AlertKind,
    AlertStatus,
    Budget,
    BudgetReservation,
    BudgetScope,
    BudgetUsage,
)
from synapse_gql.models.catalog import LLM, LLMPrice
from synapse_gql.models.conversations import (
    Conversation,
    ConversationLLM,
    ConversationStatus,
    Message,
    MessageRole,
    MessageStatus,
)
from synapse_gql.models.dashboards import ChartKind, Dashboard, DashboardWidget
from synapse_gql.models.feedback import FeedbackCategory, MessageFeedback, RatingType
from synapse_gql.models.invoices import (
    Invoice,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceStatus,
    InvoiceUsage,
)
from synapse_gql.models.rate_limits import ApiTokenRateLimit
from synapse_gql.models.tags import ConversationTag, MessageTag, ProjectTag, Tag, TagSource
from synapse_gql.models.usage import ApiKeySource, UsageLog, UsageStatus
from synapse_gql.models.variables import UserVariable, WorkspaceSecret
from synapse_gql.models.workers import GenerationWorker
from synapse_gql.models.workspaces import (
    InvitationStatus,
    MemberRole,
    Project,
    ProjectStatus,
    Workspace,
    WorkspaceInvitation,
    WorkspaceMember,
    WorkspacePlan,
)

__all__ = [
    "LLM",
    "Agent",
    "AgentStatus",
    "AlertEvent",
    "AlertKind",
    "AlertStatus",
    "ApiKeySource",
    "ApiToken",
    "ApiTokenRateLimit",
    "Base",
    "BillingEvent",
    "BillingEventType",
    "BillingStatus",
    "Budget",
    "BudgetReservation",
    "BudgetScope",
    "BudgetUsage",
    "ChartKind",
    "Conversation",
    "ConversationLLM",
    "ConversationStatus",
    "ConversationTag",
    "Dashboard",
    "DashboardWidget",
    "FeedbackCategory",
    "GenerationWorker",
    "InvitationStatus",
    "Invoice",
    "InvoiceLine",
    "InvoiceLineKind",
    "InvoiceStatus",
    "InvoiceUsage",
    "LLMPrice",
    "MemberRole",
    "Message",
    "MessageFeedback",
    "MessageRole",
    "MessageStatus",
    "MessageTag",
    "Project",
    "ProjectStatus",
    "ProjectTag",
    "RatingType",
    "Tag",
    "TagSource",
    "UsageLog",
    "UsageRollup",
    "UsageRollupDaily",
    "UsageRollupMonthly",
    "UsageStatus",
    "User",
    "UserVariable",
    "Workspace",
    "WorkspaceInvitation",
    "WorkspaceMember",
    "WorkspacePlan",
    "WorkspaceSecret",
]
