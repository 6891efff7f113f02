"""Reading the ``/metrics`` scrape in the observability tests."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """One scrape of ``/metrics``: sample values by name and labels."""

    def __init__(self, text: str) -> None:
        self.samples = [
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sample ``name`` with exactly ``labels`` (0 when it was never counted)."""
        for sample in self.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
        return 0.0


async def scrape(http: httpx.AsyncClient, token: str | None = None) -> Scrape:
    """``GET /metrics`` (with a bearer ``token``), which must succeed."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(response.text)
