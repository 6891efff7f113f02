"""Access tokens of HTTP requests remembered for ``auth_cache_seconds``: the account is read
once per token and bound, a change made in the database shows within the bound, a login
shows at once, and a token never outlives its expiry."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from synapse_gql.accounts.token_cache import TokenCache
from tests.conftest import settings_for
from tests.helpers import execute

PASSWORD = "correct horse battery"


class Clock:
    """Monotonic seconds moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def settings(database_url: str, tmp_path):
    return settings_for(database_url, tmp_path).model_copy(update={"auth_cache_seconds": 5.0})


@pytest.fixture
def clock(app) -> Clock:
    """The app's token cache, on a clock the test moves."""
    clock = Clock()
    app.state.synapse.access_tokens = TokenCache(5.0, clock=clock)
    return clock


def _viewer(user_id: uuid.UUID) -> SimpleNamespace:
    return SimpleNamespace(id=user_id)


async def test_the_account_is_read_once_per_token_within_the_bound(gql, make_user, clock, sql_log):
    """Given a token used once, when it is sent again within the bound, then no statement
    reads its account."""
    user = await make_user("ada")
    await gql.op("Me", user.token)

    with sql_log() as log:
        me = (await gql.op("Me", user.token))["me"]

    assert me["id"] == user.id
    assert not [s for s in log.statements if "FROM users" in s]


async def test_a_disabled_account_is_refused_once_the_bound_passes(
    gql, make_user, clock, db_engine
) -> None:
    """Given a token in use, when its account is disabled in the database, then requests
    pass until ``auth_cache_seconds`` have gone by, and are refused with 401 after."""
    user = await make_user("ada")
    await gql.op("Me", user.token)
    await execute(db_engine, "UPDATE users SET is_active = false WHERE email = :e", e=user.email)

    within = await gql.raw("{ me { id } }", token=user.token)
    clock.now += 5.0
    after = await gql.raw("{ me { id } }", token=user.token)

    assert within.status_code == 200
    assert after.status_code == 401
    assert "no longer exists or is disabled" in after.json()["detail"]


async def test_a_login_shows_at_once(gql, make_user, clock) -> None:
    """Given a token in use, when its user logs in again, then the account is read anew
    (``lastLoginAt`` is set at once, whichever token asks)."""
    user = await make_user("ada")
    assert (await gql.op("Me", user.token))["me"]["lastLoginAt"] is None

    login = await gql.op("Login", input={"email": user.email, "password": PASSWORD})

    assert (await gql.op("Me", user.token))["me"]["lastLoginAt"] is not None
    fresh = login["login"]["accessToken"]
    assert (await gql.op("Me", fresh))["me"]["lastLoginAt"] is not None


def test_a_token_is_not_taken_past_its_expiry() -> None:
    """Given a remembered token, when its own expiry passes before the bound, then it is
    not taken from the cache."""
    wall = Clock()
    cache = TokenCache(5.0, clock=Clock(), wall=wall)
    cache.put("token", _viewer(uuid.uuid4()), expires_at=wall.now + 2)  # type: ignore[arg-type]

    taken = cache.get("token")
    wall.now += 2
    expired = cache.get("token")

    assert taken is not None
    assert expired is None


def test_the_cache_is_bounded_and_forgets_a_user() -> None:
    """Given more tokens than entries, then the oldest go; forgetting a user drops all of
    that user's tokens and no other."""
    cache = TokenCache(5.0, max_entries=2)
    ada, bob = uuid.uuid4(), uuid.uuid4()
    for token, user in (("a1", ada), ("a2", ada), ("b1", bob)):
        cache.put(token, _viewer(user), expires_at=4e9)  # type: ignore[arg-type]

    assert cache.get("a1") is None
    assert cache.get("a2") is not None
    cache.forget_user(ada)
    assert cache.get("a2") is None
    assert cache.get("b1") is not None


def test_no_token_is_remembered_when_the_bound_is_zero() -> None:
    """Given ``auth_cache_seconds = 0``, then every request reads its account."""
    cache = TokenCache(0)
    cache.put("token", _viewer(uuid.uuid4()), expires_at=4e9)  # type: ignore[arg-type]

    assert cache.get("token") is None
