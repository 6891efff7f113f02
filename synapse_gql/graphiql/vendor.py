"""Refresh GraphiQL's browser files from npm: ``python -m synapse_gql.graphiql.vendor``.

Each file comes from a pinned package fetched with ``npm pack`` (npm checks the tarball
against the registry's integrity); the file is copied into ``static/`` under a versioned
name and its SHA-384 written to ``static/manifest.json``, which the server checks at
start-up and the page uses as ``integrity=`` attributes.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

from synapse_gql.graphiql.assets import MANIFEST, STATIC_DIR, sha384

# served name -> (package spec, path inside the package)
PINNED = {
    "react-18.3.1.min.js": ("react@18.3.1", "umd/react.production.min.js"),
    "react-dom-18.3.1.min.js": ("react-dom@18.3.1", "umd/react-dom.production.min.js"),
    "graphiql-3.8.3.min.js": ("graphiql@3.8.3", "graphiql.min.js"),
    "graphiql-3.8.3.min.css": ("graphiql@3.8.3", "graphiql.min.css"),
    "plugin-explorer-3.2.3.umd.js": ("@graphiql/plugin-explorer@3.2.3", "dist/index.umd.js"),
    "plugin-explorer-3.2.3.css": ("@graphiql/plugin-explorer@3.2.3", "dist/style.css"),
    "graphql-ws-5.16.2.min.js": ("graphql-ws@5.16.2", "umd/graphql-ws.min.js"),
}


def _pack(spec: str, into: Path) -> Path:
    out = subprocess.run(
        ["npm", "pack", spec, "--silent", "--pack-destination", str(into)],
        check=True,
        capture_output=True,
        text=True,
    )
    return into / out.stdout.strip().splitlines()[-1]


def vendor() -> dict[str, dict[str, dict[str, str]]]:
    """Fetch every pinned file into ``static/``; returns the manifest written."""
    files: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tarballs: dict[str, Path] = {}
        for name, (spec, inner) in PINNED.items():
            tarball = tarballs.get(spec) or tarballs.setdefault(spec, _pack(spec, Path(tmp)))
            with tarfile.open(tarball) as archive:
                member = archive.extractfile(f"package/{inner}")
                assert member is not None, (spec, inner)
                data = member.read()
            (STATIC_DIR / name).write_bytes(data)
            files[name] = {"package": spec, "path": inner, "sha384": sha384(data)}
    manifest = {"files": files}
    (STATIC_DIR / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


if __name__ == "__main__":
    for name, entry in vendor()["files"].items():
        print(f"{name}  {entry['package']}  sha384-{entry['sha384']}")
