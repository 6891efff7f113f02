"""GraphQL types of accounts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from synapse_gql.accounts.guard import TooManyAttempts
from synapse_gql.accounts.loaders import UserLoader
from synapse_gql.analytics.fields import usage_summary_field
from synapse_gql.context import Info
from synapse_gql.gql.errors import ErrorCodeType
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import ApiToken as ApiTokenRow
from synapse_gql.models import User as UserRow
from synapse_gql.usage.fields import billing_events_field, usage_logs_field
from synapse_gql.variables.fields import user_variables_field

if TYPE_CHECKING:
    pass


@strawberry.type(name="User", description="A person with an account.")
class UserType(Node):
    usage_logs = usage_logs_field("user")
    billing_events = billing_events_field("user")
    usage_summary = usage_summary_field("user")
    db_id: strawberry.Private[uuid.UUID]
    email: str
    name: str
    is_platform_admin: bool
    last_login_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: UserRow) -> UserType:
        return cls(
            id=to_global_id("User", row.id),
            db_id=row.id,
            email=row.email,
            name=row.name,
            is_platform_admin=row.is_platform_admin,
            last_login_at=row.last_login_at,
            created_at=row.created_at,
        )

    variables = user_variables_field()


async def load_user(info: Info, user_id: uuid.UUID | None) -> UserType | None:
    """A user by database id (batched), None for None or a missing id."""
    row = await UserLoader(info).one(user_id)
    return None if row is None else UserType.from_row(row)


@strawberry.type(
    name="ApiToken", description="A long-lived token for integrations (never shown again)."
)
class ApiTokenType(Node):
    db_id: strawberry.Private[uuid.UUID]
    name: str
    token_prefix: str = strawberry.field(description="The first characters, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: ApiTokenRow) -> ApiTokenType:
        return cls(
            id=to_global_id("ApiToken", row.id),
            db_id=row.id,
            name=row.name,
            token_prefix=row.token_prefix,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
        )


@strawberry.type(description="A signed access token and the user it belongs to.")
class AuthPayload:
    access_token: str
    token_type: str
    expires_at: datetime
    user: UserType


@strawberry.type(description="A new API token: `token` is shown this once and never again.")
class CreatedApiToken:
    token: str
    api_token: ApiTokenType


@strawberry.type(
    description="Too many attempts (failed logins, or sign-ups from one address): nothing was"
    " checked; try again after `retryAfter` seconds. The same answer whether or not the"
    " account exists."
)
class RateLimited:
    code: ErrorCodeType
    message: str
    path: list[str] | None
    retry_after: int = strawberry.field(description="Seconds to wait before trying again.")

    @classmethod
    def from_exception(cls, error: TooManyAttempts) -> RateLimited:
        return cls(
            code=error.code, message=error.message, path=error.path, retry_after=error.retry_after
        )


@strawberry.input
class RegisterInput:
    email: str
    name: str
    password: str


@strawberry.input
class LoginInput:
    email: str
    password: str


@strawberry.input
class CreateApiTokenInput:
    name: str
    expires_at: datetime | None = None
