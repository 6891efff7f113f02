"""User variables: set (upsert), list masked, delete; provider key resolution; rotation."""

from __future__ import annotations

import pytest

from synapse_gql.db import Database
from synapse_gql.errors import ConfigurationError
from synapse_gql.gql.relay import decode_id
from synapse_gql.models import ApiKeySource
from synapse_gql.security.keys import InvalidToken, Keyring
from synapse_gql.variables.rotation import rotate_secrets
from synapse_gql.variables.service import resolve_provider_key
from tests.helpers import execute, fetch, scalar, user_error

OPENAI_KEY = "sk-test-0123456789abcdefWXYZ"
SECRET_A = "a" * 48
SECRET_B = "b" * 48
INSERT_VARIABLE = (
    "INSERT INTO user_variables (id, user_id, key, value_encrypted, last_four)"
    " VALUES (gen_random_uuid(), :u, :k, :v, '0123')"
)
INSERT_SECRET = (
    "INSERT INTO workspace_secrets (id, workspace_id, key, value_encrypted, last_four)"
    " VALUES (gen_random_uuid(), :w, :k, :v, '0123')"
)


async def set_var(
    gql, actor, key: str = "OPENAI_API_KEY", value: str = OPENAI_KEY, **extra
) -> dict:
    given = {"key": key, "value": value, **extra}
    return (await gql.op("SetVariable", actor.token, input=given))["setVariable"]


async def stored(db_engine, key: str = "OPENAI_API_KEY"):
    sql = "SELECT user_id, value_encrypted, is_secret, last_four FROM user_variables WHERE key = :k"
    return await fetch(db_engine, sql, k=key)


def keyring_of(settings) -> Keyring:
    return Keyring(settings.secret_key.get_secret_value())


async def test_set_variable_stores_an_encrypted_secret(gql, make_user, db_engine, settings) -> None:
    """Given a user, when they set a variable without isSecret, then it is a secret: masked,
    no clear value, and the row holds only ciphertext that decrypts to it."""
    alice = await make_user("alice")
    result = await set_var(gql, alice)
    assert result["__typename"] == "UserVariable"
    assert (result["key"], result["isSecret"]) == ("OPENAI_API_KEY", True)
    assert (result["maskedValue"], result["value"]) == ("••••WXYZ", None)
    [row] = await stored(db_engine)
    assert (str(row.user_id), row.is_secret, row.last_four) == (
        str(decode_id(alice.id, "User")),
        True,
        "WXYZ",
    )
    assert OPENAI_KEY not in row.value_encrypted
    assert keyring_of(settings).decrypt(row.value_encrypted) == OPENAI_KEY


async def test_set_variable_upserts_by_key(gql, make_user, db_engine, settings) -> None:
    """Given a variable, when set again with a new value, then the same row is replaced."""
    alice = await make_user("alice")
    first = await set_var(gql, alice)
    second = await set_var(gql, alice, value="plain-setting-value", isSecret=False)
    assert second["id"] == first["id"]
    assert second["updatedAt"] >= first["updatedAt"]
    assert (second["isSecret"], second["value"]) == (False, "plain-setting-value")
    [row] = await stored(db_engine)
    assert keyring_of(settings).decrypt(row.value_encrypted) == "plain-setting-value"


async def test_non_secret_is_shown_and_still_encrypted(gql, make_user, db_engine) -> None:
    """Given a non-secret variable, when listed, then its value shows in clear, yet the
    database still stores it encrypted."""
    alice = await make_user("alice")
    await set_var(gql, alice, "REGION", "eu-west-1-region", isSecret=False)
    [variable] = (await gql.op("Variables", alice.token))["variables"]
    assert (variable["value"], variable["maskedValue"]) == ("eu-west-1-region", "••••gion")
    [row] = await stored(db_engine, "REGION")
    assert "eu-west-1" not in row.value_encrypted


async def test_short_value_shows_no_hint(gql, make_user) -> None:
    """Given a value shorter than 12 characters, when set, then the mask shows nothing of it."""
    alice = await make_user("alice")
    assert (await set_var(gql, alice, value="abc123"))["maskedValue"] == "••••"


@pytest.mark.parametrize(
    ("key", "value", "path"),
    [
        ("", "v", ["input", "key"]),
        ("lower_case", "v", ["input", "key"]),
        ("1ABC", "v", ["input", "key"]),
        ("A-B", "v", ["input", "key"]),
        ("A" * 129, "v", ["input", "key"]),
        ("KEY", "", ["input", "value"]),
        ("KEY", "x" * 10_001, ["input", "value"]),
    ],
)
async def test_set_variable_validates(gql, make_user, db_engine, key, value, path) -> None:
    """Given a bad key or value, when set, then INVALID_INPUT at its path and no row."""
    alice = await make_user("alice")
    user_error(await set_var(gql, alice, key, value), "INVALID_INPUT", path)
    assert await scalar(db_engine, "SELECT count(*) FROM user_variables") == 0


async def test_limits_are_inclusive(gql, make_user) -> None:
    """Given a 128-character key and a 10 000-character value, when set, then accepted."""
    alice = await make_user("alice")
    result = await set_var(gql, alice, "K" * 128, "v" * 10_000)
    assert (result["__typename"], result["key"]) == ("UserVariable", "K" * 128)


async def test_lists_are_own_and_sorted(gql, make_user, make_workspace, add_member) -> None:
    """Given two users of one workspace with variables, when each lists them (variables and
    me.variables), then each sees only theirs, sorted by key; the other's is empty."""
    alice, bob = await make_user("alice"), await make_user("bob")
    await add_member(alice, await make_workspace(alice), bob, "ADMIN")
    await set_var(gql, alice, "ZETA", "z-value-for-alice")
    await set_var(gql, alice, "ALPHA", "a-value-for-alice")
    await set_var(gql, bob, "BOB_ONLY", "b-value-for-bob!")
    listed = (await gql.op("Variables", alice.token))["variables"]
    assert [v["key"] for v in listed] == ["ALPHA", "ZETA"]
    mine = (await gql.op("MyVariables", alice.token))["me"]["variables"]
    assert [v["key"] for v in mine] == ["ALPHA", "ZETA"]
    query = "query ($id: ID!) { node(id: $id) { ... on User { id variables { key } } } }"
    body = await gql.query(query, {"id": bob.id}, alice.token)
    assert body["data"]["node"] == {"id": bob.id, "variables": []}


async def test_delete_variable(gql, make_user, db_engine) -> None:
    """Given a variable, when its owner deletes it, then the row goes; again: NOT_FOUND."""
    alice = await make_user("alice")
    created = await set_var(gql, alice)
    deleted = (await gql.op("DeleteVariable", alice.token, key="OPENAI_API_KEY"))["deleteVariable"]
    assert deleted == {"__typename": "Deleted", "id": created["id"]}
    assert await scalar(db_engine, "SELECT count(*) FROM user_variables") == 0
    again = (await gql.op("DeleteVariable", alice.token, key="OPENAI_API_KEY"))["deleteVariable"]
    user_error(again, "NOT_FOUND", ["key"])


async def test_cannot_delete_anothers_variable(gql, make_user, db_engine) -> None:
    """Given Alice's variable, when Bob deletes that key, then NOT_FOUND and it stays."""
    alice, bob = await make_user("alice"), await make_user("bob")
    await set_var(gql, alice)
    result = (await gql.op("DeleteVariable", bob.token, key="OPENAI_API_KEY"))["deleteVariable"]
    user_error(result, "NOT_FOUND", ["key"])
    assert await scalar(db_engine, "SELECT count(*) FROM user_variables") == 1


async def test_anonymous_cannot_set_or_delete(gql, make_user, db_engine) -> None:
    """Given no token, when setting or deleting, then UNAUTHENTICATED and nothing changes."""
    alice = await make_user("alice")
    await set_var(gql, alice)
    given = {"key": "NEW_KEY", "value": "some-value"}
    user_error((await gql.op("SetVariable", input=given))["setVariable"], "UNAUTHENTICATED")
    result = (await gql.op("DeleteVariable", key="OPENAI_API_KEY"))["deleteVariable"]
    user_error(result, "UNAUTHENTICATED")
    assert await scalar(db_engine, "SELECT count(*) FROM user_variables") == 1
    body = await gql.query("{ variables { key } }")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_variable_node_is_owner_only(gql, make_user) -> None:
    """Given Alice's variable, when fetched by ID, then Alice gets it and Bob gets null."""
    alice, bob = await make_user("alice"), await make_user("bob")
    created = await set_var(gql, alice)
    query = "query ($id: ID!) { node(id: $id) { ... on UserVariable { key maskedValue } } }"
    mine = await gql.query(query, {"id": created["id"]}, alice.token)
    assert mine["data"]["node"] == {"key": "OPENAI_API_KEY", "maskedValue": "••••WXYZ"}
    theirs = await gql.query(query, {"id": created["id"]}, bob.token)
    assert theirs["data"]["node"] is None


async def test_resolve_provider_key_prefers_user_then_workspace(
    gql, make_user, make_workspace, database_url, settings
) -> None:
    """Given a workspace secret and a user variable, when resolving, then the user's key
    wins, the workspace's is the fallback, and None when neither exists."""
    alice, bob = await make_user("alice"), await make_user("bob")
    workspace = await make_workspace(alice)
    given = {"workspaceId": workspace["id"], "key": "OPENAI_API_KEY", "value": "sk-workspace-0000"}
    await gql.op("SetWorkspaceSecret", alice.token, input=given)
    await set_var(gql, alice)
    alice_id, bob_id = decode_id(alice.id, "User"), decode_id(bob.id, "User")
    workspace_id = decode_id(workspace["id"], "Workspace")
    db, keyring = Database(database_url, pool_size=1), keyring_of(settings)
    try:
        async with db.transaction() as session:
            args = (session, keyring)
            assert await resolve_provider_key(*args, alice_id, workspace_id, "OPENAI_API_KEY") == (
                OPENAI_KEY,
                ApiKeySource.USER,
            )
            assert await resolve_provider_key(*args, bob_id, workspace_id, "OPENAI_API_KEY") == (
                "sk-workspace-0000",
                ApiKeySource.WORKSPACE,
            )
            assert await resolve_provider_key(*args, bob_id, None, "OPENAI_API_KEY") is None
            assert await resolve_provider_key(*args, alice_id, workspace_id, "OTHER_KEY") is None
    finally:
        await db.dispose()


async def _encrypted_rows(db_engine) -> list[str]:
    sql = (
        "SELECT value_encrypted FROM user_variables"
        " UNION ALL SELECT value_encrypted FROM workspace_secrets"
    )
    return [row.value_encrypted for row in await fetch(db_engine, sql)]


async def _seed_under_secret_a(make_user, make_workspace, db_engine) -> list[str]:
    """Three user variables and two workspace secrets encrypted with secret A."""
    alice = await make_user("alice")
    workspace = await make_workspace(alice)
    user_id, workspace_id = decode_id(alice.id, "User"), decode_id(workspace["id"], "Workspace")
    old = Keyring(SECRET_A)
    values = [f"value-number-{i}-0123" for i in range(5)]
    for i, value in enumerate(values[:3]):
        await execute(db_engine, INSERT_VARIABLE, u=user_id, k=f"KEY_{i}", v=old.encrypt(value))
    for i, value in enumerate(values[3:]):
        await execute(db_engine, INSERT_SECRET, w=workspace_id, k=f"KEY_{i}", v=old.encrypt(value))
    return values


async def test_rotation_reencrypts_everything(
    make_user, make_workspace, db_engine, database_url
) -> None:
    """Given values under secret A, when B becomes current with A as previous, then they
    still decrypt; after the rotation (in batches of 2) B alone decrypts all of them, A
    none, and updatedAt is untouched."""
    values = await _seed_under_secret_a(make_user, make_workspace, db_engine)
    transitional = Keyring(SECRET_B, previous=[SECRET_A])
    assert sorted(transitional.decrypt(c) for c in await _encrypted_rows(db_engine)) == values
    stamps = await fetch(db_engine, "SELECT updated_at FROM user_variables ORDER BY id")
    db = Database(database_url, pool_size=1)
    try:
        assert await rotate_secrets(db, transitional, batch_size=2) == 5
    finally:
        await db.dispose()
    rotated = await _encrypted_rows(db_engine)
    assert sorted(Keyring(SECRET_B).decrypt(c) for c in rotated) == values
    with pytest.raises(InvalidToken):
        Keyring(SECRET_A).decrypt(rotated[0])
    assert await fetch(db_engine, "SELECT updated_at FROM user_variables ORDER BY id") == stamps


async def test_rotation_without_the_old_secret_fails(
    make_user, make_workspace, db_engine, database_url
) -> None:
    """Given values under secret A, when rotating with B alone, then a configuration error
    names the missing previous secret and the values are left as they were."""
    await _seed_under_secret_a(make_user, make_workspace, db_engine)
    before = await _encrypted_rows(db_engine)
    db = Database(database_url, pool_size=1)
    try:
        with pytest.raises(ConfigurationError, match="SYNAPSE_PREVIOUS_SECRET_KEYS"):
            await rotate_secrets(db, Keyring(SECRET_B))
    finally:
        await db.dispose()
    assert await _encrypted_rows(db_engine) == before
