"""Accounts over HTTP: registration, login, bearer tokens and API tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from synapse_gql.gql.relay import decode_id
from synapse_gql.security.keys import Keyring
from tests.helpers import client_with, error_codes, execute, fetch, scalar, user_error

PASSWORD = "correct horse battery"


def register_input(email: str, password: str = PASSWORD, name: str = "Ada") -> dict:
    return {"email": email, "name": name, "password": password}


async def create_api_token(gql, token: str, name: str = "ci", **extra) -> dict:
    data = await gql.op("CreateApiToken", token, input={"name": name, **extra})
    payload = data["createApiToken"]
    assert payload["__typename"] == "CreatedApiToken", payload
    return payload


def assert_401(response, fragment: str) -> None:
    assert response.status_code == 401, response.text
    assert fragment in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


# --- registration -----------------------------------------------------------------------


async def test_register_returns_a_working_access_token(gql) -> None:
    """Given a new email, when registering, then the returned token authenticates `me`."""
    data = await gql.op("Register", input=register_input("grace@example.com"))
    payload = data["register"]
    assert payload["__typename"] == "AuthPayload"
    assert payload["tokenType"] == "Bearer"

    me = (await gql.op("Me", payload["accessToken"]))["me"]

    assert me["email"] == "grace@example.com"
    assert me["id"] == payload["user"]["id"]
    assert me["isPlatformAdmin"] is False


async def test_email_is_case_insensitive(gql, db_engine) -> None:
    """Given ada@x.com is registered, when registering Ada@X.com, then EMAIL_TAKEN."""
    await gql.op("Register", input=register_input("ada@x.com"))

    data = await gql.op("Register", input=register_input("Ada@X.com"))

    user_error(data["register"], "EMAIL_TAKEN", ["input", "email"])
    assert await scalar(db_engine, "SELECT count(*) FROM users") == 1


async def test_email_is_stored_lower_case(gql) -> None:
    """Given a mixed-case email, when registering, then it is stored and shown lower-cased."""
    data = await gql.op("Register", input=register_input("  Linus@Example.COM "))

    assert data["register"]["user"]["email"] == "linus@example.com"


@pytest.mark.parametrize(
    ("email", "password", "path"),
    [
        ("not-an-email", PASSWORD, ["input", "email"]),
        ("a@b", PASSWORD, ["input", "email"]),
        ("short@example.com", "1234567", ["input", "password"]),
    ],
)
async def test_register_rejects_invalid_input(gql, db_engine, email, password, path) -> None:
    """Given a bad email or a short password, when registering, then INVALID_INPUT at path."""
    data = await gql.op("Register", input=register_input(email, password))

    user_error(data["register"], "INVALID_INPUT", path)
    assert await scalar(db_engine, "SELECT count(*) FROM users") == 0


async def test_registration_can_be_disabled(settings, db_engine) -> None:
    """Given allow_registration=False, when registering, then REGISTRATION_DISABLED, no row."""
    async with client_with(settings, allow_registration=False) as gql:
        data = await gql.op("Register", input=register_input("eve@example.com"))

    user_error(data["register"], "REGISTRATION_DISABLED")
    assert await scalar(db_engine, "SELECT count(*) FROM users") == 0


async def test_password_is_stored_as_an_argon2_hash(gql, make_user, db_engine) -> None:
    """Given a registered user, then the database holds an argon2id hash, not the password."""
    user = await make_user("hash", password=PASSWORD)

    stored = await scalar(
        db_engine, "SELECT password_hash FROM users WHERE email = :e", e=user.email
    )

    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


# --- login ------------------------------------------------------------------------------


async def test_login_with_the_right_password(gql, make_user) -> None:
    """Given a user who never logged in, when logging in, then a token and lastLoginAt."""
    user = await make_user("ada")
    assert (await gql.op("Me", user.token))["me"]["lastLoginAt"] is None

    data = await gql.op("Login", input={"email": user.email.upper(), "password": PASSWORD})

    payload = data["login"]
    assert payload["__typename"] == "AuthPayload"
    assert payload["user"]["lastLoginAt"] is not None
    me = (await gql.op("Me", payload["accessToken"]))["me"]
    assert me["id"] == user.id
    assert me["lastLoginAt"] is not None


async def test_wrong_password_and_unknown_email_look_the_same(gql, make_user) -> None:
    """Given a user, when logging in wrongly or as nobody, then one identical error."""
    user = await make_user("ada")

    wrong = await gql.op("Login", input={"email": user.email, "password": "wrong password"})
    nobody = await gql.op("Login", input={"email": "nobody@example.com", "password": PASSWORD})

    wrong_message = user_error(wrong["login"], "INVALID_CREDENTIALS")
    nobody_message = user_error(nobody["login"], "INVALID_CREDENTIALS")
    assert wrong_message == nobody_message
    assert wrong["login"]["path"] == nobody["login"]["path"]


# --- bearer tokens ----------------------------------------------------------------------


async def test_garbage_bearer_token_is_401(gql) -> None:
    """Given a token that is no JWT, when calling, then 401 with a clear message."""
    response = await gql.raw("{ me { id } }", token="not-a-token")

    assert_401(response, "invalid or has expired")


async def test_forged_bearer_token_is_401(gql, make_user) -> None:
    """Given a token signed with another secret, when calling, then 401."""
    user = await make_user("ada")
    forger = Keyring(secrets.token_urlsafe(48))
    forged, _ = forger.issue_access_token(decode_id(user.id, "User"), timedelta(hours=1))

    response = await gql.raw("{ me { id } }", token=forged)

    assert_401(response, "invalid or has expired")


async def test_expired_bearer_token_is_401(gql, app, make_user) -> None:
    """Given a correctly signed token that expired, when calling, then 401."""
    user = await make_user("ada")
    keyring = app.state.synapse.keyring
    expired, _ = keyring.issue_access_token(decode_id(user.id, "User"), timedelta(seconds=-5))

    response = await gql.raw("{ me { id } }", token=expired)

    assert_401(response, "invalid or has expired")


async def test_token_of_a_deleted_user_is_401(gql, app) -> None:
    """Given a valid token for a user id that does not exist, when calling, then 401."""
    token, _ = app.state.synapse.keyring.issue_access_token(uuid.uuid4(), timedelta(hours=1))

    response = await gql.raw("{ me { id } }", token=token)

    assert_401(response, "no longer exists")


async def test_other_authorization_scheme_is_401(gql) -> None:
    """Given `Authorization: Basic ...`, when calling, then 401 naming the Bearer scheme."""
    response = await gql.http.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": "Basic YTpi"}
    )

    assert_401(response, "Bearer")


async def test_anonymous_me_is_null_and_private_fields_fail(gql) -> None:
    """Given no token, then `me` is null and `apiTokens` is an UNAUTHENTICATED error."""
    assert (await gql.op("Me"))["me"] is None

    body = await gql.query("{ apiTokens { totalCount } }")

    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]


# --- API tokens -------------------------------------------------------------------------


async def test_api_token_is_shown_once_and_stored_as_sha256(gql, make_user, db_engine) -> None:
    """Given a user, when creating an API token, then `sgq_...` once, only its sha256 stored."""
    user = await make_user("ada")

    created = await create_api_token(gql, user.token)

    token = created["token"]
    assert token.startswith("sgq_")
    assert created["apiToken"]["tokenPrefix"] == token[:12]
    rows = await fetch(db_engine, "SELECT token_hash, token_prefix FROM api_tokens")
    assert rows == [(hashlib.sha256(token.encode()).hexdigest(), token[:12])]
    stored = await fetch(db_engine, "SELECT api_tokens::text FROM api_tokens")
    assert token not in stored[0][0]


async def test_api_token_authenticates_and_records_use(gql, make_user) -> None:
    """Given an API token, when used, then it is the user and the list shows lastUsedAt."""
    user = await make_user("ada")
    created = await create_api_token(gql, user.token)

    me = (await gql.op("Me", created["token"]))["me"]

    assert me["id"] == user.id
    response = await gql.raw(
        "query { apiTokens { edges { node { id name tokenPrefix lastUsedAt } } } }",
        token=user.token,
    )
    assert created["token"] not in response.text
    [edge] = response.json()["data"]["apiTokens"]["edges"]
    assert edge["node"]["id"] == created["apiToken"]["id"]
    assert edge["node"]["lastUsedAt"] is not None


async def test_revoked_api_token_is_401(gql, make_user) -> None:
    """Given a used API token, when revoked, then it is refused and hidden by default."""
    user = await make_user("ada")
    created = await create_api_token(gql, user.token)

    revoked = await gql.op("RevokeApiToken", user.token, id=created["apiToken"]["id"])

    assert revoked["revokeApiToken"]["revokedAt"] is not None
    assert_401(await gql.raw("{ me { id } }", token=created["token"]), "revoked")
    listed = await gql.op("ApiTokens", user.token)
    assert listed["apiTokens"]["totalCount"] == 0
    listed = await gql.op("ApiTokens", user.token, includeRevoked=True)
    assert listed["apiTokens"]["edges"][0]["node"]["revokedAt"] is not None


async def test_cannot_revoke_another_users_token(gql, make_user) -> None:
    """Given Bob's API token, when Ada revokes it, then NOT_FOUND and it still works."""
    ada, bob = await make_user("ada"), await make_user("bob")
    created = await create_api_token(gql, bob.token)

    data = await gql.op("RevokeApiToken", ada.token, id=created["apiToken"]["id"])

    user_error(data["revokeApiToken"], "NOT_FOUND", ["id"])
    assert (await gql.op("Me", created["token"]))["me"]["id"] == bob.id


async def test_api_token_expiry_must_be_in_the_future(gql, make_user, db_engine) -> None:
    """Given an expiresAt in the past, when creating a token, then INVALID_INPUT, no row."""
    user = await make_user("ada")
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()

    data = await gql.op("CreateApiToken", user.token, input={"name": "old", "expiresAt": past})

    user_error(data["createApiToken"], "INVALID_INPUT", ["input", "expiresAt"])
    assert await scalar(db_engine, "SELECT count(*) FROM api_tokens") == 0


async def test_expired_api_token_is_401(gql, make_user, db_engine) -> None:
    """Given an API token whose expiry has passed, when used, then 401."""
    user = await make_user("ada")
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = await create_api_token(gql, user.token, expiresAt=future)
    assert created["apiToken"]["expiresAt"] is not None
    await execute(db_engine, "UPDATE api_tokens SET expires_at = now() - interval '1 second'")

    response = await gql.raw("{ me { id } }", token=created["token"])

    assert_401(response, "expired")


async def test_unknown_api_token_is_401(gql) -> None:
    """Given an `sgq_` token that was never issued, when used, then 401."""
    response = await gql.raw("{ me { id } }", token="sgq_" + secrets.token_urlsafe(32))

    assert_401(response, "API token is invalid")
