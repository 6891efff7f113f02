"""The LLM catalog: the seed, filters, admin changes, price history and pagination."""

from __future__ import annotations

from decimal import Decimal
from decimal import Decimal as D

import pytest

from synapse_gql.catalog.service import seed_catalog
from synapse_gql.db import Database
from tests.gql_client import operation_documents
from tests.helpers import error_codes, fetch, make_admin, scalar, user_error

SEEDED_PROVIDERS = {
    "anthropic": 3,
    "deepseek": 1,
    "google": 2,
    "meta": 1,
    "mock": 1,
    "openai": 4,
    "xai": 1,
}

NEW_MODEL = {
    "provider": "acme",
    "modelId": "acme-1",
    "displayName": "Acme One",
    "inputPricePerMillion": "1.25",
    "outputPricePerMillion": "2.5",
    "contextWindow": 8192,
    "maxOutputTokens": 2048,
}


@pytest.fixture
async def admin(make_user, db_engine):
    user = await make_user("admin")
    await make_admin(db_engine, user.email)
    return user


async def all_llms(gql, token: str, **filters) -> dict[str, dict]:
    """modelId -> node of every model matching ``filters`` (one page of up to 100)."""
    data = await gql.op("Llms", token, first=100, **filters)
    return {edge["node"]["modelId"]: edge["node"] for edge in data["llms"]["edges"]}


async def create_model(gql, token: str, **changes) -> dict:
    data = await gql.op("CreateLlm", token, input={**NEW_MODEL, **changes})
    return data["createLlm"]


async def price_rows(db_engine, model_id: str) -> list:
    """(input, output, closed?) of a model's price periods, oldest first."""
    return await fetch(
        db_engine,
        "SELECT p.input_price_per_million, p.output_price_per_million, p.valid_to IS NOT NULL"
        " FROM llm_prices p JOIN llms l ON l.id = p.llm_id WHERE l.model_id = :m"
        " ORDER BY p.valid_to IS NULL, p.valid_from",
        m=model_id,
    )


# --- the seeded catalog -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "provider", "input_price", "output_price"),
    [
        ("gpt-4o", "openai", "5", "15"),
        ("claude-3-opus-20240229", "anthropic", "15", "75"),
        ("gemini-1.5-pro", "google", "3.5", "10.5"),
        ("gemini-1.5-flash", "google", "0.075", "0.3"),
        ("synapse-dev", "mock", "0", "0"),
    ],
)
async def test_seeded_prices_are_exact(
    gql, make_user, model_id, provider, input_price, output_price
) -> None:
    """Given the seeded catalog, then documented prices come back as exact decimal strings."""
    user = await make_user()

    node = (await all_llms(gql, user.token))[model_id]

    assert node["provider"] == provider
    assert isinstance(node["inputPricePerMillion"], str)
    assert Decimal(node["inputPricePerMillion"]) == Decimal(input_price)
    assert Decimal(node["outputPricePerMillion"]) == Decimal(output_price)
    assert node["isActive"] is True


async def test_seed_has_thirteen_models_each_with_an_open_price(gql, make_user, db_engine) -> None:
    """Given the seed, then 13 models (12 products plus mock) each with one open price."""
    user = await make_user()

    data = await gql.op("Llms", user.token)

    assert data["llms"]["totalCount"] == 13
    assert len(data["llms"]["edges"]) == 13
    assert await scalar(db_engine, "SELECT count(*) FROM llm_prices WHERE valid_to IS NULL") == 13


async def test_filters_by_provider_and_active(gql, make_user, admin) -> None:
    """Given one deactivated model, when filtering, then provider and active narrow the list."""
    user = await make_user()
    gpt4o = (await all_llms(gql, user.token))["gpt-4o"]
    await gql.op("DeactivateLlm", admin.token, id=gpt4o["id"])

    openai = await all_llms(gql, user.token, provider="openai")
    inactive = await all_llms(gql, user.token, active=False)
    active_openai = await all_llms(gql, user.token, provider="openai", active=True)

    assert set(openai) == {"gpt-4o", "gpt-4o-mini", "gpt-4-turbo", "gpt-3.5-turbo"}
    assert set(inactive) == {"gpt-4o"}
    assert set(active_openai) == set(openai) - {"gpt-4o"}


async def test_providers_count_models(gql, make_user) -> None:
    """Given the seed, then providers lists each provider with its model counts."""
    user = await make_user()

    providers = (await gql.op("Providers", user.token))["providers"]

    assert {p["name"]: p["modelCount"] for p in providers} == SEEDED_PROVIDERS
    assert all(p["activeModelCount"] == p["modelCount"] for p in providers)


async def test_seeding_again_adds_nothing(database_url, db_engine) -> None:
    """Given a seeded database, when seeding again, then nothing is added."""
    db = Database(database_url, pool_size=1)
    try:
        async with db.transaction() as session:
            added = await seed_catalog(session)
    finally:
        await db.dispose()

    assert added == 0
    assert await scalar(db_engine, "SELECT count(*) FROM llms") == 13
    assert await scalar(db_engine, "SELECT count(*) FROM llm_prices") == 13


async def test_anonymous_callers_cannot_list_models(gql) -> None:
    """Given no token, when listing llms, then an UNAUTHENTICATED error."""
    body = await gql.query("{ llms { totalCount } }")

    assert error_codes(body) == ["UNAUTHENTICATED"]


# --- administration ---------------------------------------------------------------------


async def test_admin_creates_a_model(gql, admin, db_engine) -> None:
    """Given an admin, when creating a model, then it is listed with its first price."""
    created = await create_model(gql, admin.token, provider="Acme")

    assert created["__typename"] == "LLM"
    assert created["provider"] == "acme"
    assert Decimal(created["inputPricePerMillion"]) == Decimal("1.25")
    assert "acme-1" in await all_llms(gql, admin.token, provider="acme")
    assert await price_rows(db_engine, "acme-1") == [(Decimal("1.25"), Decimal("2.5"), False)]


async def test_price_change_keeps_history(gql, admin, db_engine) -> None:
    """Given gpt-4o at 5/15, when repriced, then the old period is closed and a new one open."""
    gpt4o = (await all_llms(gql, admin.token))["gpt-4o"]

    data = await gql.op(
        "UpdateLlm", admin.token, input={"id": gpt4o["id"], "inputPricePerMillion": "2.5"}
    )

    updated = data["updateLlm"]
    assert Decimal(updated["inputPricePerMillion"]) == Decimal("2.5")
    assert Decimal(updated["outputPricePerMillion"]) == Decimal("15")
    assert await price_rows(db_engine, "gpt-4o") == [
        (Decimal("5"), Decimal("15"), True),
        (Decimal("2.5"), Decimal("15"), False),
    ]


async def test_update_without_price_change_opens_no_period(gql, admin, db_engine) -> None:
    """Given gpt-4o, when renamed with the same price, then its price history is unchanged."""
    gpt4o = (await all_llms(gql, admin.token))["gpt-4o"]

    data = await gql.op(
        "UpdateLlm",
        admin.token,
        input={"id": gpt4o["id"], "displayName": "GPT 4o", "inputPricePerMillion": "5.00"},
    )

    assert data["updateLlm"]["displayName"] == "GPT 4o"
    assert await price_rows(db_engine, "gpt-4o") == [(Decimal("5"), Decimal("15"), False)]


async def test_admin_deactivates_a_model(gql, admin) -> None:
    """Given an active model, when deactivated, then it is inactive and counted so."""
    grok = (await all_llms(gql, admin.token))["grok-2"]

    data = await gql.op("DeactivateLlm", admin.token, id=grok["id"])

    assert data["deactivateLlm"]["isActive"] is False
    providers = (await gql.op("Providers", admin.token))["providers"]
    xai = next(p for p in providers if p["name"] == "xai")
    assert (xai["modelCount"], xai["activeModelCount"]) == (1, 0)


@pytest.mark.parametrize("operation", ["CreateLlm", "UpdateLlm", "DeactivateLlm"])
async def test_non_admin_is_forbidden(gql, make_user, db_engine, operation) -> None:
    """Given a signed-in non-admin, when changing the catalog, then FORBIDDEN, nothing written."""
    user = await make_user()
    gpt4o = (await all_llms(gql, user.token))["gpt-4o"]
    variables = {
        "CreateLlm": {"input": NEW_MODEL},
        "UpdateLlm": {"input": {"id": gpt4o["id"], "inputPricePerMillion": "1"}},
        "DeactivateLlm": {"id": gpt4o["id"]},
    }[operation]

    data = await gql.op(operation, user.token, **variables)

    user_error(next(iter(data.values())), "FORBIDDEN")
    assert (await all_llms(gql, user.token))["gpt-4o"] == gpt4o
    assert await scalar(db_engine, "SELECT count(*) FROM llms") == 13
    assert await scalar(db_engine, "SELECT count(*) FROM llm_prices") == 13


async def test_duplicate_model_is_rejected(gql, admin) -> None:
    """Given gpt-4o exists, when adding OpenAI/gpt-4o again, then ALREADY_EXISTS."""
    data = await create_model(gql, admin.token, provider="OpenAI", modelId="gpt-4o")

    user_error(data, "ALREADY_EXISTS", ["input", "modelId"])


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"inputPricePerMillion": "-0.01"}, ["input", "inputPricePerMillion"]),
        ({"outputPricePerMillion": "-1"}, ["input", "outputPricePerMillion"]),
        ({"contextWindow": 1000, "maxOutputTokens": 1001}, ["input", "maxOutputTokens"]),
        ({"contextWindow": 0}, ["input", "contextWindow"]),
    ],
)
async def test_invalid_new_model_is_rejected(gql, admin, db_engine, changes, path) -> None:
    """Given bad prices or sizes, when creating a model, then INVALID_INPUT and no row."""
    data = await create_model(gql, admin.token, **changes)

    user_error(data, "INVALID_INPUT", path)
    assert await scalar(db_engine, "SELECT count(*) FROM llms") == 13


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"outputPricePerMillion": "-5"}, ["input", "outputPricePerMillion"]),
        ({"maxOutputTokens": 200_000}, ["input", "maxOutputTokens"]),
    ],
)
async def test_invalid_update_changes_nothing(gql, admin, db_engine, changes, path) -> None:
    """Given gpt-4o, when updated with bad values, then INVALID_INPUT and it is unchanged."""
    gpt4o = (await all_llms(gql, admin.token))["gpt-4o"]

    data = await gql.op("UpdateLlm", admin.token, input={"id": gpt4o["id"], **changes})

    user_error(data["updateLlm"], "INVALID_INPUT", path)
    assert (await all_llms(gql, admin.token))["gpt-4o"] == gpt4o
    assert await price_rows(db_engine, "gpt-4o") == [(Decimal("5"), Decimal("15"), False)]


async def test_update_with_malformed_id_names_the_field(gql, admin) -> None:
    """Given a malformed id, when updating a model, then INVALID_ID at ['input', 'id']."""
    data = await gql.op("UpdateLlm", admin.token, input={"id": "nope", "displayName": "X"})

    user_error(data["updateLlm"], "INVALID_ID", ["input", "id"])


# --- pagination -------------------------------------------------------------------------


async def test_pages_of_five_visit_every_model_once(gql, make_user) -> None:
    """Given 13 models, when paging with first: 5 and after, then 5+5+3, each seen once."""
    user = await make_user()
    seen: list[str] = []
    sizes: list[int] = []
    after = None
    while True:
        connection = (await gql.op("Llms", user.token, first=5, after=after))["llms"]
        sizes.append(len(connection["edges"]))
        seen += [edge["node"]["id"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    assert sizes == [5, 5, 3]
    assert len(seen) == len(set(seen)) == 13
    assert connection["totalCount"] == 13


# --- price scale and cache prices ------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("inputPricePerMillion", "0.123456789012345"),
        ("inputPricePerMillion", "0.00000000001"),
        ("outputPricePerMillion", "-0.5"),
        ("cacheReadPricePerMillion", "0.00000000001"),
        ("cacheWritePricePerMillion", "1.00000000005"),
    ],
)
async def test_a_price_the_scale_cannot_hold_is_refused(
    gql, admin, db_engine, field, value
) -> None:
    """Given a price with more than 10 decimal places or a negative one, when
    updating gpt-4o or creating a model, then INVALID_INPUT naming the field; nothing
    changes (no rounding to a stored value, no new model or price period)."""
    gpt4o = (await all_llms(gql, admin.token))["gpt-4o"]

    updated = await gql.op("UpdateLlm", admin.token, input={"id": gpt4o["id"], field: value})
    created = await create_model(gql, admin.token, **{field: value})

    user_error(updated["updateLlm"], "INVALID_INPUT", ["input", field])
    user_error(created, "INVALID_INPUT", ["input", field])
    assert (await all_llms(gql, admin.token))["gpt-4o"] == gpt4o
    assert await scalar(db_engine, "SELECT count(*) FROM llms") == 13
    assert await scalar(db_engine, "SELECT count(*) FROM llm_prices") == 13


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("operation", ["CreateLlm", "UpdateLlm"])
async def test_a_price_that_is_not_a_number_is_refused(
    gql, admin, db_engine, operation, value
) -> None:
    """Given NaN or an infinite price, then VALIDATION_FAILED naming the field; no change."""
    gpt4o = (await all_llms(gql, admin.token))["gpt-4o"]
    given = {"id": gpt4o["id"]} if operation == "UpdateLlm" else dict(NEW_MODEL)
    given["cacheWritePricePerMillion"] = value

    document = operation_documents()[operation]
    body = (await gql.raw(document, {"input": given}, admin.token, operation)).json()

    assert error_codes(body) == ["VALIDATION_FAILED"]
    assert "cacheWritePricePerMillion" in body["errors"][0]["message"]
    assert (await all_llms(gql, admin.token))["gpt-4o"] == gpt4o
    assert await scalar(db_engine, "SELECT count(*) FROM llm_prices") == 13


async def test_prices_at_the_full_scale_are_stored_exactly(gql, admin, db_engine) -> None:
    """Given prices with 10 decimal places (and trailing zeros past them), when creating a
    model, then the mutation returns the values the database holds, equal to those given."""
    data = await create_model(
        gql,
        admin.token,
        inputPricePerMillion="0.1234567891",
        outputPricePerMillion="0.00000000010000",
        cacheReadPricePerMillion="0.0000000001",
    )

    assert data["__typename"] == "LLM", data
    [row] = await fetch(
        db_engine,
        "SELECT p.input_price_per_million, p.output_price_per_million,"
        " p.cache_read_price_per_million, p.cache_write_price_per_million"
        " FROM llm_prices p JOIN llms l ON l.id = p.llm_id"
        " WHERE l.model_id = 'acme-1'",
    )
    assert tuple(row) == (D("0.1234567891"), D("1E-10"), D("1E-10"), None)
    returned = (
        data["inputPricePerMillion"],
        data["outputPricePerMillion"],
        data["cacheReadPricePerMillion"],
        data["cacheWritePricePerMillion"],
    )
    assert returned == ("0.1234567891", "0.0000000001", "0.0000000001", None)


@pytest.mark.parametrize(
    ("model_id", "read", "write"),
    [
        ("gpt-4o", "2.5", None),
        ("gpt-4o-mini", "0.075", None),
        ("gpt-4-turbo", None, None),
        ("claude-3-opus-20240229", "1.5", "18.75"),
        ("claude-3-haiku-20240307", "0.03", "0.3"),
        ("gemini-1.5-pro", None, None),
    ],
)
async def test_seeded_cache_prices(gql, make_user, model_id, read, write) -> None:
    """Given the seed, then models with prompt caching have their cache prices, others none."""
    user = await make_user()

    node = (await all_llms(gql, user.token))[model_id]

    prices = (node["cacheReadPricePerMillion"], node["cacheWritePricePerMillion"])
    assert tuple(None if p is None else D(p) for p in prices) == (
        None if read is None else D(read),
        None if write is None else D(write),
    )


async def test_cache_price_changes_open_price_periods(gql, admin, db_engine) -> None:
    """Given gpt-4-turbo without cache prices, when a cache read price is set, then a new
    period carries it; when it is set to null, another period drops it; an update giving
    the same price again opens none."""
    turbo = (await all_llms(gql, admin.token))["gpt-4-turbo"]

    given = {"id": turbo["id"], "cacheReadPricePerMillion": "5"}
    priced = (await gql.op("UpdateLlm", admin.token, input=given))["updateLlm"]
    again = (await gql.op("UpdateLlm", admin.token, input=given))["updateLlm"]
    cleared_input = {"id": turbo["id"], "cacheReadPricePerMillion": None}
    cleared = (await gql.op("UpdateLlm", admin.token, input=cleared_input))["updateLlm"]

    assert D(priced["cacheReadPricePerMillion"]) == D(5)
    assert D(again["cacheReadPricePerMillion"]) == D(5)
    assert cleared["cacheReadPricePerMillion"] is None
    periods = await fetch(
        db_engine,
        "SELECT p.cache_read_price_per_million, p.valid_to IS NOT NULL FROM llm_prices p"
        " JOIN llms l ON l.id = p.llm_id WHERE l.model_id = 'gpt-4-turbo'"
        " ORDER BY p.valid_to IS NULL, p.valid_from",
    )
    assert [tuple(p) for p in periods] == [(None, True), (D(5), True), (None, False)]
