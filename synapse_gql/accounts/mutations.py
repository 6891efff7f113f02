"""Account mutations: register, login, API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import strawberry

from synapse_gql.accounts import service
from synapse_gql.accounts.auth import forget_account
from synapse_gql.accounts.guard import TooManyAttempts
from synapse_gql.accounts.types import (
    ApiTokenType,
    AuthPayload,
    CreateApiTokenInput,
    CreatedApiToken,
    LoginInput,
    RateLimited,
    RegisterInput,
    UserType,
)
from synapse_gql.context import Info
from synapse_gql.errors import DomainError, ErrorCode
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import AUTHENTICATED, PUBLIC
from synapse_gql.gql.relay import decode_id
from synapse_gql.models import User
from synapse_gql.realtime.access import announce_access_change
from synapse_gql.security.client_address import client_address

AuthResult = Annotated[AuthPayload | RateLimited | UserError, strawberry.union("AuthResult")]
CreateApiTokenResult = Annotated[
    CreatedApiToken | UserError, strawberry.union("CreateApiTokenResult")
]
ApiTokenResult = Annotated[ApiTokenType | UserError, strawberry.union("ApiTokenResult")]


def _address(info: Info) -> str:
    return client_address(info.context.request, info.context.settings.trusted_proxies)


def _auth_payload(info: Info, user: User) -> AuthPayload:
    ttl = timedelta(seconds=info.context.settings.access_token_ttl_seconds)
    token, expires = info.context.state.keyring.issue_access_token(user.id, ttl)
    return AuthPayload(
        access_token=token, token_type="Bearer", expires_at=expires, user=UserType.from_row(user)
    )


@strawberry.type
class AccountMutation:
    @strawberry.mutation(
        permission_classes=PUBLIC,
        description="Create an account and log in (a limited number per address per hour).",
    )
    async def register(self, info: Info, input: RegisterInput) -> AuthResult:
        if not info.context.settings.allow_registration:
            raise DomainError(
                "Registration is disabled on this server.", code=ErrorCode.REGISTRATION_DISABLED
            )
        try:
            await info.context.state.login_guard.admit_registration(_address(info))
        except TooManyAttempts as error:
            return RateLimited.from_exception(error)
        prepared = await service.prepare_registration(input.email, input.name, input.password)
        async with info.context.state.db.transaction() as session:
            user = await service.register(session, prepared)
        return _auth_payload(info, user)

    @strawberry.mutation(
        permission_classes=PUBLIC,
        description="Exchange credentials for a token. Repeated failures for an account or"
        " from an address are answered with `RateLimited` for a while.",
    )
    async def login(self, info: Info, input: LoginInput) -> AuthResult:
        guard, address = info.context.state.login_guard, _address(info)
        try:
            await guard.check_login(input.email, address)
        except TooManyAttempts as error:
            return RateLimited.from_exception(error)
        try:
            user = await service.check_credentials(
                info.context.sessions, input.email, input.password
            )
        except DomainError:
            await guard.login_failed(input.email, address)
            raise
        await guard.login_succeeded(input.email)
        new_hash = await service.rehash_if_needed(user, input.password)
        async with info.context.state.db.transaction() as session:
            user = await service.record_login(session, user, new_hash)
        forget_account(info.context.state, user.id)  # tokens remembered hold the old row
        return _auth_payload(info, user)

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Create an API token.")
    async def create_api_token(
        self, info: Info, input: CreateApiTokenInput
    ) -> CreateApiTokenResult:
        viewer = info.context.require_viewer()
        async with info.context.state.db.transaction() as session:
            issued = await service.create_api_token(
                session, viewer.id, input.name, input.expires_at
            )
        return CreatedApiToken(token=issued.token, api_token=ApiTokenType.from_row(issued.record))

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Revoke one of your API tokens."
    )
    async def revoke_api_token(self, info: Info, id: strawberry.ID) -> ApiTokenResult:
        viewer = info.context.require_viewer()
        token_id = decode_id(id, "ApiToken")
        async with info.context.state.db.transaction() as session:
            record = await service.revoke_api_token(session, viewer.id, token_id)
            announce_access_change(
                info.context.state.realtime, session, [viewer.id], "API token revoked"
            )
        return ApiTokenType.from_row(record)
