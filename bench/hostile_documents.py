"""How long the server takes to refuse documents of nested fragment spreads.

    python -m bench.hostile_documents [--runs 5]

Each fragment spreads the next one ``spreads`` times, ``levels`` deep (no cycle), so the
document is small but its expansion has ``spreads ** levels`` fields. Every limit (depth,
aliases, tokens, cost) must be computed from the document, not from its expansion.

The document is posted to ``/graphql`` of ``create_app`` through httpx's ASGI transport, no
socket and no database involved (the refusal happens before any resolver runs), and the
milliseconds to the refusal are printed (the first run, which validates the document, then
the best and median of the later runs, served by the validation cache), with the error
code and the status of a ``/health`` request sent right after.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import statistics
import time

import httpx
from pydantic import SecretStr

from synapse_gql.app import create_app
from synapse_gql.config import Settings

SHAPES = ((10, 4), (20, 20))


def nested_fragments(levels: int, spreads: int) -> str:
    """``me { ...F0 }`` where ``F<i>`` spreads ``F<i+1>`` ``spreads`` times."""
    lines = ["query Nested { me { ...F0 } }"]
    for level in range(levels):
        inner = " ".join([f"...F{level + 1}"] * spreads)
        lines.append(f"fragment F{level} on User {{ id {inner} }}")
    lines.append(f"fragment F{levels} on User {{ id }}")
    return "\n".join(lines)


async def refuse(http: httpx.AsyncClient, query: str) -> tuple[float, str]:
    started = time.perf_counter()
    response = await http.post("/graphql", json={"query": query})
    elapsed = (time.perf_counter() - started) * 1000
    codes = [e.get("extensions", {}).get("code") for e in response.json().get("errors", [])]
    return elapsed, f"{response.status_code} {','.join(map(str, codes))}"


async def main(runs: int) -> None:
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)  # each refusal
    settings = Settings(
        _env_file=None,
        database_url="postgresql://bench@127.0.0.1:1/unused",
        secret_key=SecretStr(secrets.token_urlsafe(48)),
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        for levels, spreads in SHAPES:
            query = nested_fragments(levels, spreads)
            timings, outcome = [], ""
            for _ in range(runs):
                elapsed, outcome = await refuse(http, query)
                timings.append(elapsed)
            health = (await http.get("/health")).status_code
            later = timings[1:] or timings
            print(
                f"{levels} levels x {spreads} spreads ({len(query.encode())} bytes): refused "
                f"({outcome}) in {timings[0]:.1f} ms the first time (validated), then "
                f"{min(later):.1f} ms best, {statistics.median(later):.1f} ms median of "
                f"{len(later)} (validation cached); /health then {health}"
            )
    await app.state.synapse.db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
