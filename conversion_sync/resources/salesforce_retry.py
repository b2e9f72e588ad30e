"""What to do when a call to Salesforce fails: a pure classifier of the exception, used by
`SalesforceClient.call` (no I/O here, so every case is unit-tested).

Retried (with backoff): 500/503 and other 5xx on reads, timeouts and lost connections on calls
that can be repeated, a refused connection (nothing was sent), UNABLE_TO_LOCK_ROW.
Logged in again once: an expired or invalid session (when the credentials can renew it).
Stopped cleanly (H3): REQUEST_LIMIT_EXCEEDED; the next cycle resumes.
Never retried: a TLS certificate that does not verify (a setting, not a blip), any other 4xx
(INVALID_FIELD, MALFORMED_QUERY, INSUFFICIENT_ACCESS ...), and a create whose answer was lost
(it may have been applied: the caller looks Salesforce up before creating again).
"""

from __future__ import annotations

import enum
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import requests
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)
from urllib3.exceptions import NewConnectionError

RETRYABLE_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION"})
# Salesforce rolls a failed transaction back on these, so even a create can be repeated.
NOT_APPLIED_STATUSES = frozenset({500, 503})


class Verdict(enum.Enum):
    RETRY = "retry"              # transient: wait and try again (bounded)
    RELOGIN = "relogin"          # the session expired: log in again once, then try again
    STOP = "stop"                # the org's request limit: stop cleanly, resume next cycle
    FAIL = "fail"                # permanent for this run: say why, do not repeat
    UNCERTAIN = "uncertain"      # a call that must not be repeated lost its answer


class Cause(enum.Enum):
    SERVER_ERROR = "server error"
    ROW_LOCK = "row lock"
    TIMEOUT = "timeout"
    CONNECTION_LOST = "connection lost"
    REFUSED = "connection refused"
    CERTIFICATE = "certificate"
    SESSION = "session"
    REQUEST_LIMIT = "request limit"
    REFUSED_REQUEST = "refused request"
    BAD_REQUEST = "bad request"
    OTHER = "other"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    cause: Cause
    reason: str          # a few words for logs and messages, e.g. "HTTP 503 SERVER_UNAVAILABLE"


def error_code(exc: BaseException) -> str | None:
    """The errorCode of a simple-salesforce exception (its content is a list of errors)."""
    content = getattr(exc, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode") or content[0].get("statusCode")
    return None


def classify(exc: BaseException, *, idempotent: bool = True) -> Decision:
    """What `SalesforceClient.call` does with `exc` raised by one attempt of a call."""
    if isinstance(exc, SalesforceExpiredSession):
        return Decision(Verdict.RELOGIN, Cause.SESSION, "session expired or invalid")
    if isinstance(exc, SalesforceRefusedRequest):
        code = error_code(exc) or "HTTP 403"
        if code == "REQUEST_LIMIT_EXCEEDED":
            return Decision(Verdict.STOP, Cause.REQUEST_LIMIT, code)
        return Decision(Verdict.FAIL, Cause.REFUSED_REQUEST, code)
    if isinstance(exc, SalesforceMalformedRequest):
        code = error_code(exc) or "HTTP 400"
        if code in RETRYABLE_CODES:
            return Decision(Verdict.RETRY, Cause.ROW_LOCK if code == "UNABLE_TO_LOCK_ROW" else Cause.SERVER_ERROR,
                            code)
        return Decision(Verdict.FAIL, Cause.BAD_REQUEST, code)
    if isinstance(exc, SalesforceGeneralError) and (exc.status or 0) >= 500:
        reason = " ".join(filter(None, [f"HTTP {exc.status}", error_code(exc)]))
        if idempotent or exc.status in NOT_APPLIED_STATUSES:
            return Decision(Verdict.RETRY, Cause.SERVER_ERROR, reason)
        return Decision(Verdict.UNCERTAIN, Cause.SERVER_ERROR, reason)
    if isinstance(exc, SalesforceError):
        return Decision(Verdict.FAIL, Cause.BAD_REQUEST, error_code(exc) or f"HTTP {getattr(exc, 'status', '?')}")
    if isinstance(exc, requests.exceptions.SSLError) and _certificate_problem(exc):
        return Decision(Verdict.FAIL, Cause.CERTIFICATE, "TLS certificate not verified")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Decision(Verdict.RETRY, Cause.TIMEOUT, "no connection in time")   # nothing was sent
    if isinstance(exc, requests.exceptions.ConnectionError) and (refused := _not_connected(exc)):
        return Decision(Verdict.RETRY, Cause.REFUSED, refused)     # nothing was sent
    if isinstance(exc, (requests.exceptions.Timeout, requests.exceptions.ConnectionError,
                        requests.exceptions.ChunkedEncodingError)):
        timeout = isinstance(exc, requests.exceptions.Timeout)
        cause, reason = (Cause.TIMEOUT, "timed out") if timeout else (Cause.CONNECTION_LOST, "connection dropped")
        return Decision(Verdict.RETRY if idempotent else Verdict.UNCERTAIN, cause, reason)
    return Decision(Verdict.FAIL, Cause.OTHER, type(exc).__name__)


def _causes(exc: BaseException, depth: int = 0) -> Iterator[BaseException]:
    """`exc` and what it wraps: args, urllib3's `reason`, __cause__ and __context__."""
    if depth > 8:
        return
    yield exc
    inner = [getattr(exc, "reason", None), exc.__cause__, exc.__context__,
             *(a for a in getattr(exc, "args", ()) if isinstance(a, BaseException))]
    for item in inner:
        if isinstance(item, BaseException) and item is not exc:
            yield from _causes(item, depth + 1)


def _certificate_problem(exc: BaseException) -> bool:
    for item in _causes(exc):
        if isinstance(item, ssl.SSLCertVerificationError):
            return True
        text = str(item)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text or "hostname" in text.lower():
            return True
    return False


def _not_connected(exc: BaseException) -> str | None:
    """Why no connection was made (so nothing was sent), or None."""
    causes = list(_causes(exc))
    if any(isinstance(item, ConnectionRefusedError) or "Connection refused" in str(item) for item in causes):
        return "connection refused"
    if any(isinstance(item, NewConnectionError) for item in causes):
        return "could not connect"
    return None
