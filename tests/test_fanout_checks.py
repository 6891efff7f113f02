"""Access checks at subscribe time shared by a burst: waiting subscribers share the next
check, a check that passed answers the next subscribers of its key while the viewer has
heard no access news, and news, a refusal or time make the next subscriber check again."""

from __future__ import annotations

import asyncio

import pytest

from synapse_gql.errors import NotFound
from synapse_gql.realtime.fanout import checks as shared_checks
from synapse_gql.realtime.fanout.checks import SharedChecks


class Viewer:
    """A check that counts its queries, and the viewer's access news epoch."""

    def __init__(self) -> None:
        self.queries = 0
        self.news = 0
        self.allowed = True

    async def check(self) -> str:
        self.queries += 1
        await asyncio.sleep(0.01)
        if not self.allowed:
            raise NotFound("Message not found.")
        return "answer"

    def epoch(self) -> int:
        return self.news


async def test_a_burst_shares_one_query_until_news_arrives() -> None:
    checks, viewer = SharedChecks(), Viewer()
    first = await asyncio.gather(*(checks.run("key", viewer.check, viewer.epoch) for _ in "abc"))
    later = [await checks.run("key", viewer.check, viewer.epoch) for _ in range(5)]
    assert first + later == ["answer"] * 8
    assert viewer.queries == 1

    viewer.news += 1  # access news: the next subscriber checks again
    viewer.allowed = False
    with pytest.raises(NotFound):
        await checks.run("key", viewer.check, viewer.epoch)
    with pytest.raises(NotFound):  # a refusal is never reused
        await checks.run("key", viewer.check, viewer.epoch)
    assert viewer.queries == 3


async def test_news_during_a_check_keeps_its_result_from_later_subscribers() -> None:
    checks, viewer = SharedChecks(), Viewer()
    running = asyncio.ensure_future(checks.run("key", viewer.check, viewer.epoch))
    await asyncio.sleep(0.005)  # the query is running
    viewer.news += 1  # heard while it ran: its answer may predate the change
    assert await running == "answer"
    assert await checks.run("key", viewer.check, viewer.epoch) == "answer"
    assert viewer.queries == 2


async def test_a_passed_check_is_reused_for_a_bounded_time(monkeypatch) -> None:
    monkeypatch.setattr(shared_checks, "REUSE_SECONDS", 0.02)
    checks, viewer = SharedChecks(), Viewer()
    await checks.run("key", viewer.check, viewer.epoch)
    await asyncio.sleep(0.03)
    await checks.run("key", viewer.check, viewer.epoch)
    assert viewer.queries == 2
