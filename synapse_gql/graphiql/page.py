"""The GraphiQL page: references only the server's own files, with integrity attributes."""

from __future__ import annotations

from pathlib import Path
from string import Template

from fastapi import FastAPI

from synapse_gql.graphiql.assets import Asset, assets_router, load_assets

TEMPLATE = Path(__file__).resolve().parent / "page.html"
# Load order: React before GraphiQL, GraphiQL before its plugin.
SCRIPTS = (
    "react-18.3.1.min.js",
    "react-dom-18.3.1.min.js",
    "graphql-ws-5.16.2.min.js",
    "graphiql-3.8.3.min.js",
    "plugin-explorer-3.2.3.umd.js",
)
STYLES = ("graphiql-3.8.3.min.css", "plugin-explorer-3.2.3.css")


def render_page(assets: dict[str, Asset]) -> str:
    """The page's HTML for the verified ``assets``."""
    scripts = "\n    ".join(
        f'<script src="{assets[n].url}" integrity="{assets[n].integrity}"></script>'
        for n in SCRIPTS
    )
    styles = "\n    ".join(
        f'<link rel="stylesheet" href="{assets[n].url}" integrity="{assets[n].integrity}" />'
        for n in STYLES
    )
    return Template(TEMPLATE.read_text()).substitute(scripts=scripts, styles=styles)


class LocalGraphiQL:
    """For the GraphQL router (before it in the bases): ``GET /graphql`` from a browser
    renders the local page (set by :func:`install`) instead of Strawberry's CDN one."""

    graphiql_page: str = ""

    @property
    def graphql_ide_html(self) -> str:
        return self.graphiql_page


def install(app: FastAPI, graphql: LocalGraphiQL) -> None:
    """Check the vendored files (``AssetError`` if one is missing or altered), serve them,
    and give ``graphql`` the page that uses them."""
    assets = load_assets()
    app.include_router(assets_router(assets))
    graphql.graphiql_page = render_page(assets)
