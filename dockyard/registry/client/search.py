"""The v1 search API (``GET /v1/search?q=…&n=…``), where a registry offers it."""

from __future__ import annotations

from typing import Any

from dockyard.registry.client.errors import RegistryError
from dockyard.registry.client.session import Session


def search(session: Session, query: str, limit: int) -> list[dict[str, Any]]:
    resp = session.send("GET", "/v1/search", params={"q": query, "n": str(limit)})
    if resp.status_code != 200:
        raise RegistryError(f"Unexpected status code {resp.status_code}", resp.status_code)
    try:
        doc = resp.json()
    except ValueError:
        raise RegistryError("invalid search response: not JSON", 500) from None
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, list):
        raise RegistryError("invalid search response: no results", 500)
    return [r for r in results if isinstance(r, dict)][:limit]
