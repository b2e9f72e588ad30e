"""API-call accounting (H3): every request to the org counted by kind, and the org's own last
reported usage (the Sforce-Limit-Info header)."""

from __future__ import annotations

import re
import threading
from collections import Counter

import requests

_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


class ApiUsage:
    """Counts API calls by kind (per client) and remembers the org's last reported usage."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.used: int | None = None
        self.limit: int | None = None
        self._lock = threading.Lock()

    def observe(self, method: str, url: str, response: requests.Response) -> None:
        path = url.split("?", 1)[0]
        if "/services/data/" not in path:
            return  # logins are not API calls
        kind = _call_kind(method, path)
        match = _USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        with self._lock:
            self.calls[kind] += 1
            self.calls["total"] += 1
            if match:
                self.used, self.limit = int(match.group(1)), int(match.group(2))

    @property
    def total(self) -> int:
        return self.calls["total"]

    def share_used(self) -> float | None:
        if self.used is None or not self.limit:
            return None
        return self.used / self.limit


def _call_kind(method: str, path: str) -> str:
    tail = path.split("/services/data/", 1)[1].split("/", 1)[-1].rstrip("/")
    if tail.startswith(("query", "queryAll")):
        return "query_more" if "/" in tail else "query"
    if tail.startswith("composite/sobjects/") and method == "PATCH":
        return "collections_upsert"          # composite/sobjects/{object}/{external id field}
    if tail.startswith("composite/sobjects"):
        return f"collections_{ {'POST': 'create', 'PATCH': 'update', 'GET': 'get', 'DELETE': 'delete'}.get(method, method.lower())}"
    if tail.startswith("jobs/query"):
        return "bulk_query"
    if tail.startswith("jobs/ingest"):
        return "bulk_ingest"
    if tail.startswith("limits"):
        return "limits"
    if tail.endswith("describe") or tail == "sobjects":
        return "describe"
    if tail.startswith("sobjects/"):
        return f"sobject_{ {'POST': 'create', 'PATCH': 'update', 'GET': 'get', 'DELETE': 'delete'}.get(method, method.lower())}"
    return "other"
