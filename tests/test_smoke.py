"""The app answers on HTTP: health, readiness, an authenticated round trip."""

from __future__ import annotations


async def test_health_reports_ok(http) -> None:
    response = await http.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_ready_checks_database(http) -> None:
    response = await http.get("/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok"}


async def test_register_then_me(gql, make_user) -> None:
    user = await make_user("ada")
    data = await gql.op("Me", user.token)
    assert data["me"]["email"] == user.email
    assert data["me"]["id"] == user.id
