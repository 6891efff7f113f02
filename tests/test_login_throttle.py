"""Logins and sign-ups under attack: hashing never stalls the server, failed logins slow
down and lock per account and per address (the same for unknown emails), registrations
are limited per address, and the counts are shared through Redis."""

from __future__ import annotations

import asyncio
import secrets
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from synapse_gql.app import create_app
from synapse_gql.config import Settings
from synapse_gql.security import passwords
from tests.gql_client import GraphQLClient
from tests.helpers import scalar

PASSWORD = "correct horse battery"
NO_BACKOFF = {"login_backoff_seconds": 0}


@asynccontextmanager
async def started(settings: Settings, **changes: Any) -> AsyncIterator[FastAPI]:
    """An app built from ``settings`` with ``changes``, between startup and shutdown."""
    app = create_app(settings.model_copy(update=changes))
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def client(app: FastAPI, peer: str) -> AsyncIterator[GraphQLClient]:
    """A client of ``app`` whose requests come from the socket address ``peer``."""
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


@asynccontextmanager
async def served(
    settings: Settings, peer: str = "10.0.0.1", **changes: Any
) -> AsyncIterator[GraphQLClient]:
    """A client, from ``peer``, of an app built from ``settings`` with ``changes``."""
    async with started(settings, **changes) as app, client(app, peer) as gql:
        yield gql


async def register(gql: GraphQLClient, email: str, **headers: str) -> dict[str, Any]:
    body = {"email": email, "name": "Someone", "password": PASSWORD}
    return await op(gql, "Register", headers, input=body)


async def login(gql: GraphQLClient, email: str, password: str, **headers: str) -> dict[str, Any]:
    return await op(gql, "Login", headers, input={"email": email, "password": password})


async def op(gql: GraphQLClient, name: str, headers: dict[str, str], **variables: Any) -> dict:
    from tests.gql_client import operation_documents

    body = {"query": operation_documents()[name], "variables": variables, "operationName": name}
    response = await gql.http.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert "errors" not in data, data["errors"]
    (payload,) = data["data"].values()
    return payload


def outcome(payload: dict[str, Any]) -> tuple[str, str, str]:
    """What a client can tell apart: the type, the code and the message."""
    return payload["__typename"], payload.get("code", ""), payload.get("message", "")


# --- hashing off the event loop ------------------------------------------------------


class GatedHasher(PasswordHasher):
    """Cheap argon2 whose verifications wait for the test's go-ahead, recording the thread
    they run on and how many run at once."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.release = threading.Event()
        self.pool_full = threading.Event()  # set when three verifications are in flight
        self.lock = threading.Lock()
        self.threads: set[int] = set()
        self.running = self.most_at_once = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self.lock:
            self.threads.add(threading.get_ident())
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            if self.running == 3:
                self.pool_full.set()
        try:
            # On the event loop this would block every other request until the timeout.
            self.release.wait(timeout=10)
            return super().verify(hash, password)
        finally:
            with self.lock:
                self.running -= 1


async def test_password_checks_run_off_the_event_loop_in_a_bounded_pool(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given six logins whose verifications are held in flight, when /health is asked ten
    times meanwhile, then all ten answers arrive before any login ends, the verifications
    ran on threads other than the loop's, and no more than the pool's three ran at once."""
    async with served(settings, password_hash_workers=3, **NO_BACKOFF) as gql:
        await register(gql, "hold@example.com")
        hasher = GatedHasher()
        monkeypatch.setattr(passwords, "_hasher", hasher)
        logins = [
            asyncio.create_task(login(gql, "hold@example.com", f"wrong password {n}"))
            for n in range(6)
        ]
        assert await asyncio.to_thread(hasher.pool_full.wait, 10)
        healthy = [(await gql.http.get("/health")).status_code for _ in range(10)]
        finished_before = sum(task.done() for task in logins)
        hasher.release.set()
        results = await asyncio.gather(*logins)
    assert healthy == [200] * 10
    assert finished_before == 0
    assert threading.get_ident() not in hasher.threads
    assert hasher.most_at_once == 3
    assert [r["code"] for r in results] == ["INVALID_CREDENTIALS"] * 6


# --- failed logins ---------------------------------------------------------------------


async def test_an_account_locks_after_its_failures_even_for_the_right_password(
    settings: Settings,
) -> None:
    """Given 5 allowed failures, when a password is wrong 5 times, then the 6th attempt,
    with the right password, is RATE_LIMITED with the lock's retryAfter."""
    async with served(settings, login_max_failures=5, login_lock_seconds=900, **NO_BACKOFF) as gql:
        await register(gql, "ada@example.com")
        wrong = [await login(gql, "ada@example.com", "not the password") for _ in range(5)]
        locked = await login(gql, "ada@example.com", PASSWORD)
    assert [r["code"] for r in wrong] == ["INVALID_CREDENTIALS"] * 5
    assert locked["__typename"] == "RateLimited"
    assert locked["code"] == "RATE_LIMITED"
    assert 0 < locked["retryAfter"] <= 900


async def test_an_unknown_email_is_answered_exactly_like_a_known_one(settings: Settings) -> None:
    """Given a known and an unknown email, when each fails 4 times and then tries again,
    then both see the same sequence of answers (types, codes, messages, waits)."""
    async with served(settings, login_max_failures=4, login_lock_seconds=600, **NO_BACKOFF) as gql:
        await register(gql, "known@example.com")
        known = [await login(gql, "known@example.com", "wrong pass") for _ in range(5)]
        unknown = [await login(gql, "nobody@example.com", "wrong pass") for _ in range(5)]
    assert [outcome(r) for r in known] == [outcome(r) for r in unknown]
    assert outcome(known[-1])[:2] == ("RateLimited", "RATE_LIMITED")
    assert known[-1]["retryAfter"] == unknown[-1]["retryAfter"] == 600


async def test_failures_back_off_before_the_lock(settings: Settings) -> None:
    """Given a 30 s backoff, when a password is wrong once, then the next attempt is judged;
    after the second failure the account must wait 30 s; other accounts are unaffected."""
    async with served(settings, login_backoff_seconds=30) as gql:
        await register(gql, "slow@example.com")
        await register(gql, "other@example.com")
        first = await login(gql, "slow@example.com", "wrong one")
        second = await login(gql, "slow@example.com", "wrong two")
        third = await login(gql, "slow@example.com", PASSWORD)
        other = await login(gql, "other@example.com", PASSWORD)
    assert [first["code"], second["code"]] == ["INVALID_CREDENTIALS"] * 2
    assert (third["__typename"], third["retryAfter"]) == ("RateLimited", 30)
    assert other["__typename"] == "AuthPayload"


async def test_a_success_starts_the_account_again_from_zero(settings: Settings) -> None:
    """Given 3 allowed failures, when 2 fail, one succeeds and 2 fail again, then the
    account is not locked."""
    async with served(settings, login_max_failures=3, **NO_BACKOFF) as gql:
        await register(gql, "reset@example.com")
        for _ in range(2):
            await login(gql, "reset@example.com", "wrong pass")
        assert (await login(gql, "reset@example.com", PASSWORD))["__typename"] == "AuthPayload"
        for _ in range(2):
            await login(gql, "reset@example.com", "wrong pass")
        again = await login(gql, "reset@example.com", PASSWORD)
    assert again["__typename"] == "AuthPayload"


async def test_a_locked_account_keeps_its_tokens(settings: Settings) -> None:
    """Given an account with an access token and an API token, when its logins are locked,
    then both tokens still authenticate."""
    async with served(settings, login_max_failures=2, **NO_BACKOFF) as gql:
        access = (await register(gql, "tokens@example.com"))["accessToken"]
        created = await gql.op("CreateApiToken", access, input={"name": "ci"})
        api_token = created["createApiToken"]["token"]
        for _ in range(2):
            await login(gql, "tokens@example.com", "wrong pass")
        locked = await login(gql, "tokens@example.com", PASSWORD)
        me_access = (await gql.op("Me", access))["me"]
        me_api = (await gql.op("Me", api_token))["me"]
    assert locked["__typename"] == "RateLimited"
    assert me_access["email"] == me_api["email"] == "tokens@example.com"


async def test_an_address_locks_after_its_failures_across_accounts(settings: Settings) -> None:
    """Given 3 allowed failures per address, when one address fails for 3 different emails,
    then its next login (any email, right password) is RATE_LIMITED while another address
    logs in."""
    changes = {"login_max_failures_per_address": 3, **NO_BACKOFF}
    async with started(settings, **changes) as app:
        async with client(app, "10.0.0.7") as gql:
            await register(gql, "victim@example.com")
            for n in range(3):
                await login(gql, f"guess{n}@example.com", "wrong pass")
            refused = await login(gql, "victim@example.com", PASSWORD)
        async with client(app, "10.0.0.8") as other:
            allowed = await login(other, "victim@example.com", PASSWORD)
    assert refused["__typename"] == "RateLimited"
    assert allowed["__typename"] == "AuthPayload"


async def test_forwarded_for_counts_only_from_a_trusted_proxy(settings: Settings) -> None:
    """Given 2 failures per address, when a client rotates X-Forwarded-For, then without
    trusted proxies the header is ignored (locked after 2); behind a trusted proxy each
    forwarded client is counted on its own."""
    changes = {"login_max_failures_per_address": 2, **NO_BACKOFF}
    results: dict[str, str] = {}
    for trusted in ([], ["10.1.0.0/16"]):
        async with served(settings, peer="10.1.2.3", trusted_proxies=trusted, **changes) as gql:
            for n in range(2):
                hop = {"X-Forwarded-For": f"203.0.113.{n}, 10.1.2.3"}
                await login(gql, f"guess{n}@example.com", "wrong pass", **hop)
            last = {"X-Forwarded-For": "203.0.113.99"}
            reply = await login(gql, "guess9@example.com", "wrong pass", **last)
        results["trusted" if trusted else "direct"] = reply["__typename"]
    assert results == {"direct": "RateLimited", "trusted": "UserError"}


# --- registrations ---------------------------------------------------------------------


async def test_registrations_are_limited_per_address(settings: Settings, db_engine) -> None:
    """Given 2 registrations per address per hour, when an address registers 3 accounts,
    then the third is RATE_LIMITED and creates no user."""
    async with served(settings, registrations_per_address_per_hour=2) as gql:
        replies = [await register(gql, f"new{n}@example.com") for n in range(3)]
    assert [r["__typename"] for r in replies] == ["AuthPayload", "AuthPayload", "RateLimited"]
    assert 0 < replies[2]["retryAfter"] <= 3600
    assert (
        await scalar(db_engine, "SELECT count(*) FROM users WHERE email = 'new2@example.com'") == 0
    )


# --- shared through Redis --------------------------------------------------------------


async def test_two_processes_share_the_count_through_redis(
    settings: Settings, redis_url: str
) -> None:
    """Given two apps on one Redis, when failures alternate between them, then the account
    locks after the configured total, seen by both."""
    # Redis outlives the test: a fresh email and address keep earlier runs' counts away.
    email, peer = f"shared-{uuid.uuid4().hex}@example.com", f"10.{secrets.randbelow(250)}.7.7"
    changes = {"redis_url": redis_url, "login_max_failures": 4, **NO_BACKOFF}
    async with served(settings, peer, **changes) as one, served(settings, peer, **changes) as two:
        await register(one, email)
        for n in range(4):
            await login(one if n % 2 else two, email, "wrong pass")
        replies = [await login(one, email, PASSWORD), await login(two, email, PASSWORD)]
    assert [r["__typename"] for r in replies] == ["RateLimited", "RateLimited"]
