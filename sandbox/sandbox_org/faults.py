"""Fault injection: make matching requests fail the way Salesforce or the network fails.

A fault has a kind, a path regex (searched in the request path, query string excluded), an
optional HTTP method and a count. Kinds:

* `http_500` -- 500 `UNKNOWN_EXCEPTION`; `http_503` -- 503 `SERVER_UNAVAILABLE`
* `expired_session` -- 401 `INVALID_SESSION_ID`; `request_limit` -- 403 `REQUEST_LIMIT_EXCEEDED`
* `lock_row` -- 400 `UNABLE_TO_LOCK_ROW`
* `timeout` -- wait `seconds` (default 30) before answering; with `apply=True` (default) the request
  is applied first and answered late, with `apply=False` nothing is applied and the connection is
  closed after the wait
* `drop_after_write` -- apply the request, then close the connection without any response

Requests answered by an error fault are not applied and not counted as API calls.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

ERROR_FAULTS: dict[str, tuple[int, str, str]] = {
    "http_500": (500, "UNKNOWN_EXCEPTION",
                 "An unexpected error occurred. Please include this ErrorId if you contact support: "
                 "1234567890-12345 (-1234567890)"),
    "http_503": (503, "SERVER_UNAVAILABLE", "Server temporarily unavailable. Please try again later."),
    "expired_session": (401, "INVALID_SESSION_ID", "Session expired or invalid"),
    "request_limit": (403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    "lock_row": (400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records"),
}
BEHAVIOUR_FAULTS = ("timeout", "drop_after_write")
FAULT_KINDS = tuple(ERROR_FAULTS) + BEHAVIOUR_FAULTS


@dataclass
class Fault:
    """One armed fault; `remaining` None means unlimited."""

    kind: str
    path: str
    method: str | None
    remaining: int | None
    params: dict[str, Any] = field(default_factory=dict)
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.regex = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return self.regex.search(path) is not None


class FaultRegistry:
    """Armed faults, consumed first-armed-first (callers hold the org lock)."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, kind: str, path: str = ".*", method: str | None = None, times: int | None = 1,
            **params: Any) -> None:
        """Arm a fault; `times=None` (or a negative number) keeps it armed until cleared."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"Unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")
        allowed = {"timeout": {"seconds", "apply"}}.get(kind, set())
        unknown = set(params) - allowed
        if unknown:
            raise ValueError(f"Fault {kind} takes no parameter(s) {sorted(unknown)}")
        remaining = None if times is None or times < 0 else int(times)
        self.faults.append(Fault(kind, path, method, remaining, dict(params)))
        logger.info("fault armed: %s path=%s method=%s times=%s", kind, path, method, remaining)

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault matching this request, with one use consumed."""
        for fault in self.faults:
            if fault.matches(method, path):
                if fault.remaining is not None:
                    fault.remaining -= 1
                return fault
        return None

    def clear(self) -> None:
        self.faults.clear()

    def describe(self) -> list[dict[str, Any]]:
        """Armed faults as plain dicts."""
        return [{"kind": f.kind, "path": f.path, "method": f.method, "remaining": f.remaining,
                 "params": f.params} for f in self.faults if f.remaining is None or f.remaining > 0]


def error_body(kind: str) -> tuple[int, list[dict[str, str]]]:
    """Status and JSON body of an error fault."""
    status, code, message = ERROR_FAULTS[kind]
    return status, [{"message": message, "errorCode": code}]
