"""GraphiQL's vendored browser files: checked against ``static/manifest.json`` at start-up,
served at ``/graphiql/static/<name>`` with year-long caching (names carry versions).

The manifest lists every file with its npm package and SHA-384 (see ``vendor.py``); a file
missing or altered stops the app from starting rather than serving a broken editor.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, HTTPException
from starlette.responses import Response

STATIC_DIR = Path(__file__).resolve().parent / "static"
MANIFEST = "manifest.json"
URL_PREFIX = "/graphiql/static"
CACHE_CONTROL = "public, max-age=31536000, immutable"
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def sha384(data: bytes) -> str:
    """The base64 SHA-384 digest, as subresource integrity writes it."""
    return base64.b64encode(hashlib.sha384(data).digest()).decode()


@dataclass(frozen=True)
class Asset:
    """One vendored file, its bytes verified against the manifest."""

    name: str
    package: str
    integrity: str
    content: bytes

    @property
    def url(self) -> str:
        return f"{URL_PREFIX}/{self.name}"

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[Path(self.name).suffix]


class AssetError(RuntimeError):
    """A vendored file is missing or does not match its manifest entry."""


def load_assets(directory: Path = STATIC_DIR) -> dict[str, Asset]:
    """Every file of the manifest, each checked against its hash."""
    manifest = json.loads((directory / MANIFEST).read_text())
    assets = {}
    for name, entry in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            raise AssetError(f"GraphiQL file {name} is missing from {directory}.")
        content = path.read_bytes()
        if sha384(content) != entry["sha384"]:
            raise AssetError(f"GraphiQL file {name} does not match its manifest hash.")
        integrity = f"sha384-{entry['sha384']}"
        assets[name] = Asset(name, entry["package"], integrity, content)
    return assets


def assets_router(assets: dict[str, Asset]) -> APIRouter:
    """``GET /graphiql/static/<name>`` for the manifest's files only."""
    router = APIRouter()

    @router.get(URL_PREFIX + "/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        found = assets.get(name)
        if found is None:
            raise HTTPException(status_code=404, detail="No such GraphiQL file.")
        headers = {"Cache-Control": CACHE_CONTROL}
        return Response(found.content, media_type=found.content_type, headers=headers)

    return router
