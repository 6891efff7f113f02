"""/ready reports each dependency and answers 503 when one is down."""

from __future__ import annotations

import httpx

from synapse_gql.app import create_app
from tests.live import free_port


async def _ready(settings) -> httpx.Response:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/ready")


async def test_ready_with_redis_up(settings, redis_url) -> None:
    response = await _ready(settings.model_copy(update={"redis_url": redis_url}))
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "realtime": "ok"}


async def test_ready_is_503_when_redis_is_down(settings) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    response = await _ready(settings.model_copy(update={"redis_url": down}))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error")
    assert body["checks"]["realtime"].startswith("error")


async def test_ready_is_503_when_database_is_down(settings) -> None:
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    response = await _ready(settings.model_copy(update={"database_url": down}))
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("error")
