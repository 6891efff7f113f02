"""The app under measure by ``bench.stream_latency``, in a process of its own.

    python -m bench.latency_server '<json: database_url, redis_url, provider_url, data_dir,
                                     port, loop>'

Built like ``synapse_gql.app:app_from_env`` (``create_app`` then ``gc.freeze()``) and served
by uvicorn on ``127.0.0.1:<port>``, with the stamps of ``instrument_server`` (the source is
not changed) and a few routes under ``/bench/`` for the client process:

* ``GET /bench/answer/<message uuid>``: waits for the answer's generation to end, then
  answers its stamps and whether its call held a budget reservation;
* ``GET /bench/cpu``: the process's CPU time so far (``time.process_time()``);
* ``POST /bench/stalls``: start noting garbage collections and event-loop lag;
  ``GET /bench/stalls``: what was noted since.
"""

from __future__ import annotations

import gc
import json
import sys
import time
import uuid
from typing import Any

from bench.stream_latency import STAMPS, ServerStamps, Stalls, bench_settings, instrument_server

RESERVED: dict[uuid.UUID, bool] = {}


def note_reservations() -> None:
    """Note, per answer, whether its plan holds a budget reservation."""
    from synapse_gql.chat.runner import Generation

    call = Generation.__call__

    async def noted(self: Generation, *args: Any, **kwargs: Any) -> Any:
        RESERVED[self.job.message_id] = self.job.plan.reservation_id is not None
        return await call(self, *args, **kwargs)

    Generation.__call__ = noted  # type: ignore[method-assign]


class BenchRoutes:
    """``/bench/`` answered here, everything else passed to the app (lifespan included)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.stalls = Stalls()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/bench/"):
            await self.app(scope, receive, send)
            return
        body = await self._answer(scope["method"], scope["path"][len("/bench/") :])
        payload = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _answer(self, method: str, path: str) -> Any:
        if path.startswith("answer/"):
            message_id = uuid.UUID(path[len("answer/") :])
            await self.app.state.synapse.generations.wait(message_id)
            stamps = STAMPS.pop(message_id, ServerStamps())
            return {
                "started": stamps.started,
                "prompted": stamps.prompted,
                "pushes": stamps.pushes,
                "sends": stamps.sends,
                "reserved": RESERVED.pop(message_id, False),
            }
        if path == "cpu":
            return time.process_time()
        if path == "stalls" and method == "POST":
            self.stalls.start()
            return None
        if path == "stalls":
            await self.stalls.stop()
            return {"gc_pauses": self.stalls.gc_pauses, "lags": self.stalls.lags}
        return None


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from synapse_gql.app import create_app
    from synapse_gql.realtime.ws_protocol import CoalescingWebSocketProtocol

    config = json.loads((argv or sys.argv[1:])[0])
    settings = bench_settings(
        config["database_url"], config["redis_url"], config["provider_url"], config["data_dir"]
    )
    instrument_server()
    note_reservations()
    app = create_app(settings)
    gc.collect()
    gc.freeze()  # as app_from_env does for a served worker
    uvicorn.run(
        BenchRoutes(app),
        host="127.0.0.1",
        port=int(config["port"]),
        log_level="warning",
        loop=config["loop"],
        lifespan="on",
        ws=CoalescingWebSocketProtocol,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
