"""How uvicorn serves the app: the options ``synapse-gql serve`` and the server processes
of the tests and benchmarks share.

``python -m synapse_gql.serving --host H --port P [--log-level L]`` serves
``app_from_env`` in one process, without the migrations and seeding ``serve`` does first.
"""

from __future__ import annotations

import argparse
from typing import Any

from synapse_gql.realtime.ws_protocol import CoalescingWebSocketProtocol

APP = "synapse_gql.app:app_from_env"


def uvicorn_options() -> dict[str, Any]:
    """The app (a factory reading the environment) and the WebSocket protocol that
    writes a loop turn's frames at once."""
    return {"app": APP, "factory": True, "ws": CoalescingWebSocketProtocol}


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m synapse_gql.serving")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    uvicorn.run(**uvicorn_options(), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
