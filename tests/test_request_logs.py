"""Request ids: taken from a well-formed ``X-Request-Id`` or made, returned in the
response header, on every log line (JSON or text) and in masked errors."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from synapse_gql.observability.logging import make_handler

HEX_ID = re.compile(r"[0-9a-f]{32}")
CRASH = 'mutation { createWorkspace(input: {name: "T"}) { __typename } }'


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The app's JSON log lines, written to a buffer."""
    handler = make_handler("json")
    buffer = io.StringIO()
    handler.setStream(buffer)  # type: ignore[attr-defined]
    root = logging.getLogger()
    root.addHandler(handler)
    yield buffer
    root.removeHandler(handler)


@pytest.fixture
def crashing(monkeypatch) -> None:
    async def crash(*args, **kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr("synapse_gql.workspaces.service.create_workspace", crash)


async def test_a_request_gets_an_id_in_its_response_header(http) -> None:
    """Given no id sent, then each response carries a fresh one."""
    first = await http.get("/health")
    second = await http.get("/health")

    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(HEX_ID.fullmatch(i) for i in ids)
    assert ids[0] != ids[1]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("proxy-7f3a.01:abc_9", True), ("bad id with spaces", False), ("x" * 129, False)],
)
async def test_a_well_formed_incoming_id_is_kept(http, sent, kept) -> None:
    """Given an incoming ``X-Request-Id``, then it is echoed when well formed, replaced by a
    new id otherwise."""
    response = await http.get("/health", headers={"X-Request-Id": sent})

    returned = response.headers["x-request-id"]
    assert (returned == sent) is kept
    if not kept:
        assert HEX_ID.fullmatch(returned)


async def test_a_masked_error_and_its_json_log_line_carry_the_request_id(
    gql, make_user, crashing, json_log
) -> None:
    """Given a crashing service, when called, then the masked error has the response
    header's request id beside its error id, and the JSON log line of the crash holds both."""
    user = await make_user("ada")

    response = await gql.raw(CRASH, token=user.token)

    request_id = response.headers["x-request-id"]
    [error] = response.json()["errors"]
    assert error["extensions"]["requestId"] == request_id
    error_id = error["extensions"]["errorId"]
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    [line] = [entry for entry in lines if entry["logger"] == "synapse_gql.errors"]
    assert line["request_id"] == request_id
    assert line["level"] == "ERROR"
    assert error_id in line["message"]
    assert "secret detail" in line["exception"]


async def test_text_lines_carry_the_request_id_too(gql, make_user, crashing) -> None:
    """Given the text format, then the crash's line names the request id in brackets."""
    user = await make_user("ada")
    handler = make_handler("text")
    buffer = io.StringIO()
    handler.setStream(buffer)  # type: ignore[attr-defined]
    logging.getLogger().addHandler(handler)
    try:
        response = await gql.raw(
            CRASH,
            token=user.token,
        )
    finally:
        logging.getLogger().removeHandler(handler)

    request_id = response.headers["x-request-id"]
    [line] = [x for x in buffer.getvalue().splitlines() if x.startswith("ERROR synapse_gql.errors")]
    assert f"[{request_id}]" in line


def test_lines_outside_a_request_have_a_dash() -> None:
    """Given no request, then a line's request id is ``-``."""
    handler = make_handler("json")
    buffer = io.StringIO()
    handler.setStream(buffer)  # type: ignore[attr-defined]
    logger = logging.getLogger("synapse_gql.test_outside")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("starting %s", "up")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True

    line = json.loads(buffer.getvalue())
    assert (line["message"], line["level"], line["request_id"]) == ("starting up", "WARNING", "-")
    assert line["logger"] == "synapse_gql.test_outside"
