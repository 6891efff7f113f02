"""GraphiQL works offline: the page references only the server's own files, each served
with its content type and long caching, each matching the pinned manifest's SHA-384."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import httpx
import pytest

from synapse_gql.graphiql.assets import MANIFEST, STATIC_DIR, AssetError, load_assets, sha384

REFERENCE = re.compile(r'<(script|link)\b[^>]*?\b(?:src|href)="([^"]+)"[^>]*>')
INTEGRITY = re.compile(r'\bintegrity="sha384-([^"]+)"')
TYPES = {"script": "text/javascript", "link": "text/css"}


async def graphiql_page(http: httpx.AsyncClient) -> str:
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def references(page: str) -> list[tuple[str, str, str]]:
    """(tag, url, integrity) of every script and stylesheet of the page."""
    found = []
    for match in REFERENCE.finditer(page):
        integrity = INTEGRITY.search(match.group(0))
        found.append((match.group(1), match.group(2), integrity.group(1) if integrity else ""))
    return found


async def test_the_page_references_no_external_host(http) -> None:
    page = await graphiql_page(http)
    refs = references(page)
    assert len(refs) == 7  # React, ReactDOM, graphql-ws, GraphiQL, explorer; two stylesheets
    assert all(url.startswith("/graphiql/static/") for _, url, _ in refs), refs
    assert "://" not in page  # no CDN, nor any other absolute address
    assert "graphqlWs.createClient" in page  # subscriptions over the local WebSocket


async def test_every_referenced_file_is_served_and_matches_the_manifest(http) -> None:
    manifest = json.loads((STATIC_DIR / MANIFEST).read_text())["files"]
    served = {}
    for tag, url, integrity in references(await graphiql_page(http)):
        response = await http.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith(TYPES[tag]), url
        assert "immutable" in response.headers["cache-control"]
        name = url.rsplit("/", 1)[1]
        assert sha384(response.content) == integrity == manifest[name]["sha384"], url
        served[name] = manifest[name]["package"]
    assert set(served) == set(manifest)  # the manifest has no file the page does not use
    # Exact versions only (no ranges, no tags).
    assert all(re.fullmatch(r"(@[\w-]+/)?[\w-]+@\d+\.\d+\.\d+", p) for p in served.values())


async def test_only_manifest_files_are_served(http) -> None:
    for path in ("/graphiql/static/manifest.json", "/graphiql/static/..%2Fpage.py"):
        assert (await http.get(path)).status_code == 404, path


def test_a_file_altered_after_vendoring_stops_the_start(tmp_path: Path) -> None:
    """Given a copy of the files with one byte changed, when loading them, then AssetError
    names the file; the untouched copy loads every file."""
    copy = tmp_path / "static"
    shutil.copytree(STATIC_DIR, copy)
    assert len(load_assets(copy)) == len(json.loads((copy / MANIFEST).read_text())["files"])
    target = copy / "react-18.3.1.min.js"
    target.write_bytes(target.read_bytes() + b"\n")
    with pytest.raises(AssetError, match=re.escape("react-18.3.1.min.js")):
        load_assets(copy)
    target.unlink()
    with pytest.raises(AssetError, match="missing"):
        load_assets(copy)
