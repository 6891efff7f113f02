"""Invoices: monthly bills from the usage log, their states, late usage and the CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from decimal import Decimal

import pytest

from tests.helpers import db_id, fetch, scalar, user_error
from tests.invoice_helpers import (
    Team,
    act,
    amounts,
    gen,
    last_month_start,
    lines,
    meter,
    move_to,
    next_month,
    price_mock,
    real_calls,
    this_month,
    this_month_start,
    usage_sum,
)


@pytest.fixture
async def team(gql, make_user, make_workspace, add_member, db_engine) -> Team:
    owner = await make_user("owner")
    workspace = await make_workspace(owner, "A")
    people = {"owner": owner}
    for role in ("ADMIN", "MEMBER", "VIEWER"):
        people[role.lower()] = await make_user(role.lower())
        await add_member(owner, workspace, people[role.lower()], role)
    people["outsider"] = await make_user("outsider")
    other = await make_workspace(people["outsider"], "B")
    projects = []
    for name in ("Alpha", "Beta"):
        given = {"workspaceId": workspace["id"], "name": name}
        made = (await gql.op("CreateProject", owner.token, input=given))["createProject"]
        projects.append(db_id(made["id"]))
    await price_mock(db_engine)
    return Team(workspace, other, people, projects)


@pytest.fixture
def db(app):
    return app.state.synapse.db


async def test_totals_equal_the_usage_of_the_period(gql, team, db, db_engine) -> None:
    """Given two real calls of the mock model and metered calls of two models in two
    projects, when an admin generates this month's invoice, then its total is the exact
    sum of the calls' costs, split per model and again per project."""
    await real_calls(gql, db_engine, team, 2)
    alpha, beta = team.projects
    await meter(db, db_engine, team, "gpt-4o", alpha, cache_read=500)
    await meter(db, db_engine, team, "gpt-4o", beta, input=7, output=3)
    await meter(db, db_engine, team, "synapse-dev", alpha, input=333, output=77)

    invoice = await gen(gql, team.people["admin"], team.workspace, this_month())

    expected = await usage_sum(db_engine, team.workspace_id, this_month_start())
    assert expected > 0
    assert (invoice["status"], invoice["period"]) == ("DRAFT", this_month())
    assert Decimal(invoice["subtotal"]) == Decimal(invoice["total"]) == expected
    by_model = {line["llm"]["modelId"]: line for line in lines(invoice, "MODEL")}
    assert set(by_model) == {"gpt-4o", "synapse-dev"}
    assert (by_model["gpt-4o"]["calls"], by_model["synapse-dev"]["calls"]) == (2, 3)
    assert by_model["gpt-4o"]["cacheReadTokens"] == 500
    assert by_model["gpt-4o"]["inputTokens"] == 1207
    by_project = {line["description"]: line for line in lines(invoice, "PROJECT")}
    assert {k: v["calls"] for k, v in by_project.items()} == {
        "Alpha": 2,
        "Beta": 1,
        "No project": 2,
    }
    assert amounts(lines(invoice, "MODEL")) == amounts(lines(invoice, "PROJECT")) == expected
    rows = await fetch(
        db_engine,
        "SELECT l.model_id, sum(u.cost) AS cost FROM usage_logs u JOIN llms l ON l.id = u.llm_id"
        " WHERE u.workspace_id = :w GROUP BY l.model_id",
        w=team.workspace_id,
    )
    assert {r.model_id: r.cost for r in rows} == {
        k: Decimal(v["amount"]) for k, v in by_model.items()
    }
    assert lines(invoice, "ADJUSTMENT") == []


async def test_the_same_period_gives_the_same_invoice_refreshed_while_draft(
    gql, team, db, db_engine
) -> None:
    """Given a draft, when a call is metered and the period generated again, then the same
    invoice comes back with the new call in its lines."""
    admin = team.people["admin"]
    await meter(db, db_engine, team, "gpt-4o", None)
    first = await gen(gql, admin, team.workspace, this_month())
    await meter(db, db_engine, team, "gpt-4o", None)
    second = await gen(gql, admin, team.workspace, this_month())

    assert second["id"] == first["id"]
    assert second["number"] == first["number"]
    assert lines(second, "MODEL")[0]["calls"] == 2
    assert Decimal(second["total"]) == 2 * Decimal(first["total"])
    assert await scalar(db_engine, "SELECT count(*) FROM invoices") == 1


async def test_ten_concurrent_generations_make_one_invoice(gql, team, db, db_engine) -> None:
    """Given usage, when ten generations of one period run at once, then all return one
    invoice, one row exists and every call is covered once."""
    for project in team.projects:
        await meter(db, db_engine, team, "gpt-4o", project)
    owner = team.people["owner"]
    results = await asyncio.gather(
        *(gen(gql, owner, team.workspace, this_month()) for _ in range(10))
    )

    assert {r["__typename"] for r in results} == {"Invoice"}
    assert len({r["id"] for r in results}) == 1
    assert {r["total"] for r in results} == {results[0]["total"]}
    assert await scalar(db_engine, "SELECT count(*) FROM invoices") == 1
    assert await scalar(db_engine, "SELECT count(*) FROM invoice_usage") == 2
    assert await scalar(db_engine, "SELECT count(*) FROM invoice_lines") == 3


async def test_transitions_and_wrong_ones(gql, team) -> None:
    """DRAFT -> ISSUED -> PAID; wrong moves are INVALID_STATE and change nothing."""
    owner = team.people["owner"]
    invoice = (await gen(gql, owner, team.workspace, this_month()))["id"]
    for operation in ("MarkInvoicePaid", "VoidInvoice"):
        user_error(
            await act(gql, operation, owner, invoice), "INVALID_STATE", ["input", "invoiceId"]
        )

    issued = await act(gql, "IssueInvoice", owner, invoice)
    assert issued["status"] == "ISSUED"
    assert issued["issuedAt"] is not None
    user_error(await act(gql, "IssueInvoice", owner, invoice), "INVALID_STATE")
    paid = await act(gql, "MarkInvoicePaid", owner, invoice)
    assert (paid["status"], paid["issuedAt"]) == ("PAID", issued["issuedAt"])
    assert paid["paidAt"] is not None
    assert paid["voidedAt"] is None
    user_error(await act(gql, "VoidInvoice", owner, invoice), "INVALID_STATE")
    assert (await gen(gql, owner, team.workspace, this_month()))["status"] == "PAID"


async def test_an_issued_invoice_can_be_voided(gql, team) -> None:
    owner = team.people["owner"]
    invoice = (await gen(gql, owner, team.workspace, this_month()))["id"]
    await act(gql, "IssueInvoice", owner, invoice)
    voided = await act(gql, "VoidInvoice", owner, invoice)
    assert (voided["status"], voided["paidAt"]) == ("VOID", None)
    assert voided["voidedAt"] is not None
    user_error(await act(gql, "MarkInvoicePaid", owner, invoice), "INVALID_STATE")


async def test_an_issued_invoice_is_frozen(gql, team, db, db_engine) -> None:
    """Given an issued invoice, when more usage is metered in its period and it is
    generated again, then it comes back unchanged."""
    owner = team.people["owner"]
    await meter(db, db_engine, team, "gpt-4o", team.projects[0])
    invoice = await gen(gql, owner, team.workspace, this_month())
    issued = await act(gql, "IssueInvoice", owner, invoice["id"])
    await meter(db, db_engine, team, "synapse-dev", team.projects[1])

    again = await gen(gql, owner, team.workspace, this_month())
    assert again == issued
    assert again["lines"] == invoice["lines"]
    assert again["total"] == invoice["total"]


async def test_late_usage_is_one_adjustment_on_the_next_invoice(gql, team, db, db_engine) -> None:
    """Given last month's invoice issued, when a call of last month is metered after that
    (a swept answer), then this month's invoice carries it as one ADJUSTMENT line, once,
    however often it is generated, and last month's invoice is unchanged."""
    owner, last = team.people["owner"], last_month_start()
    await move_to(db_engine, await meter(db, db_engine, team, "gpt-4o", None), last)
    previous = await gen(gql, owner, team.workspace, last.strftime("%Y-%m"))
    issued = await act(gql, "IssueInvoice", owner, previous["id"])
    late = await meter(db, db_engine, team, "gpt-4o", team.projects[0], input=999, output=1)
    await move_to(db_engine, late, last.replace(day=28))
    await meter(db, db_engine, team, "synapse-dev", team.projects[1])

    current = await gen(gql, owner, team.workspace, this_month())
    again = await gen(gql, owner, team.workspace, this_month())

    late_cost = await scalar(db_engine, "SELECT cost FROM usage_logs WHERE id = :i", i=late)
    [adjustment] = lines(again, "ADJUSTMENT")
    assert adjustment["adjustedPeriod"] == last.strftime("%Y-%m")
    assert (adjustment["calls"], adjustment["inputTokens"]) == (1, 999)
    assert adjustment["llm"]["modelId"] == "gpt-4o"
    assert Decimal(adjustment["amount"]) == late_cost
    assert Decimal(again["total"]) == Decimal(again["subtotal"]) + late_cost
    assert Decimal(again["subtotal"]) == await usage_sum(
        db_engine, team.workspace_id, this_month_start()
    )
    assert current["lines"] == again["lines"]
    assert await gen(gql, owner, team.workspace, last.strftime("%Y-%m")) == issued
    covered = "SELECT count(*) FROM invoice_usage WHERE usage_log_id = :i AND invoice_id = :v"
    assert await scalar(db_engine, covered, i=late, v=db_id(again["id"])) == 1


@pytest.mark.parametrize(
    ("period", "fragment"),
    [("2026-13", "YYYY-MM"), ("november", "YYYY-MM"), ("2026-1", "YYYY-MM"), (None, "begun")],
)
async def test_a_malformed_or_future_period_is_refused_naming_the_field(
    gql, team, db_engine, period, fragment
) -> None:
    payload = await gen(gql, team.people["owner"], team.workspace, period or next_month())
    assert fragment in user_error(payload, "INVALID_INPUT", ["input", "period"])
    assert await scalar(db_engine, "SELECT count(*) FROM invoices") == 0


async def test_only_admins_and_owners_generate_move_and_read(gql, team) -> None:
    """Members and viewers get FORBIDDEN, outsiders NOT_FOUND, and nothing changes; the
    list and the node are empty for them, as billing events are."""
    people, period = team.people, this_month()
    for role, code in (("member", "FORBIDDEN"), ("viewer", "FORBIDDEN"), ("outsider", "NOT_FOUND")):
        user_error(
            await gen(gql, people[role], team.workspace, period), code, ["input", "workspaceId"]
        )
    invoice = (await gen(gql, people["admin"], team.workspace, period))["id"]
    for role, code in (("member", "FORBIDDEN"), ("outsider", "NOT_FOUND")):
        user_error(
            await act(gql, "IssueInvoice", people[role], invoice), code, ["input", "invoiceId"]
        )
    for role, expected in (("owner", 1), ("admin", 1), ("member", 0), ("viewer", 0)):
        data = await gql.op("WorkspaceInvoices", people[role].token, id=team.workspace["id"])
        assert data["workspace"]["invoices"]["totalCount"] == expected, role
        node = (await gql.op("InvoiceNode", people[role].token, id=invoice))["node"]
        assert (node is not None) == bool(expected), role
        if node is not None:
            assert node["status"] == "DRAFT"
    outsider = await gql.op("InvoiceNode", people["outsider"].token, id=invoice)
    assert outsider["node"] is None


async def test_the_list_filters_by_status_newest_period_first(gql, team) -> None:
    owner = team.people["owner"]
    old = await gen(gql, owner, team.workspace, last_month_start().strftime("%Y-%m"))
    new = await gen(gql, owner, team.workspace, this_month())
    await act(gql, "IssueInvoice", owner, old["id"])

    def ids(data: dict) -> list[str]:
        return [edge["node"]["id"] for edge in data["workspace"]["invoices"]["edges"]]

    every = await gql.op("WorkspaceInvoices", owner.token, id=team.workspace["id"])
    assert ids(every) == [new["id"], old["id"]]
    issued = await gql.op(
        "WorkspaceInvoices", owner.token, id=team.workspace["id"], status="ISSUED"
    )
    assert ids(issued) == [old["id"]]
    page = await gql.op("WorkspaceInvoices", owner.token, id=team.workspace["id"], first=1)
    assert ids(page) == [new["id"]]
    assert page["workspace"]["invoices"]["pageInfo"]["hasNextPage"]


async def test_the_csv_holds_the_lines_for_admins_only(gql, http, team, db, db_engine) -> None:
    """The CSV route needs a token (401), hides other workspaces' invoices and ids it
    cannot read (404), and writes each line with its exact amount."""
    people = team.people
    await meter(db, db_engine, team, "gpt-4o", team.projects[0], cache_read=3)
    await meter(db, db_engine, team, "synapse-dev", None, input=1, output=1)
    invoice = await gen(gql, people["admin"], team.workspace, this_month())
    url = f"/invoices/{invoice['id']}.csv"

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    assert (await http.get(url)).status_code == 401
    assert (await http.get(url, headers=auth("not-a-token"))).status_code == 401
    for role in ("outsider", "member", "viewer"):
        assert (await http.get(url, headers=auth(people[role].token))).status_code == 404, role
    assert (
        await http.get("/invoices/SW52b2ljZTp4.csv", headers=auth(people["owner"].token))
    ).status_code == 404
    response = await http.get(url, headers=auth(people["owner"].token))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(invoice["lines"]) == 4
    for row, line in zip(rows, invoice["lines"], strict=True):
        assert (row["kind"], row["description"]) == (line["kind"], line["description"])
        assert Decimal(row["amount"]) == Decimal(line["amount"])
        assert int(row["calls"]) == line["calls"]
        assert row["period"] == this_month()
    stored = await fetch(db_engine, "SELECT amount FROM invoice_lines ORDER BY position")
    assert [row["amount"] for row in rows] == [format(r.amount, "f") for r in stored]
    assert sum(Decimal(r["amount"]) for r in rows if r["kind"] == "MODEL") == Decimal(
        invoice["total"]
    )


async def test_listing_invoices_with_lines_takes_the_same_statements_for_more(
    gql, team, db, db_engine, sql_log
) -> None:
    """Lines, their models and projects load in batches: two invoices with more lines
    cost as many statements as one."""
    owner, last = team.people["owner"], last_month_start()

    async def listed() -> tuple[int, int]:
        with sql_log() as log:
            data = await gql.op("WorkspaceInvoices", owner.token, id=team.workspace["id"])
        edges = data["workspace"]["invoices"]["edges"]
        return log.count, sum(len(edge["node"]["lines"]) for edge in edges)

    await meter(db, db_engine, team, "gpt-4o", team.projects[0])
    await gen(gql, owner, team.workspace, this_month())
    small, small_lines = await listed()
    for model, project in (("gpt-4o", team.projects[1]), ("synapse-dev", None)):
        await move_to(db_engine, await meter(db, db_engine, team, model, project), last)
    await gen(gql, owner, team.workspace, last.strftime("%Y-%m"))
    large, large_lines = await listed()

    assert (small_lines, large_lines) == (2, 6)
    assert small == large
