"""The policy around one Salesforce call, in pieces each testable alone: re-login once on an expired
session (`ReLogin`), retry with exponential backoff and jitter (`Backoff`), the API budget of H3
(`ApiBudget`), the one-sentence domain error that ends a failed call (`failure_for`), and
`run_call`, which composes them around the classifier of `salesforce_retry`. No HTTP here: the
transport (`SalesforceClient`) hands in the call, the login and the clock."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from conversion_sync.errors import (
    ApiBudgetExhausted,
    SalesforceApiError,
    SalesforceAuthError,
    SalesforceCertificateError,
    SalesforceConnectionError,
)
from conversion_sync.resources.salesforce_retry import Cause, Decision, Verdict, classify, error_code

log = logging.getLogger(__name__)

T = TypeVar("T")


def error_message(exc: BaseException) -> str:
    """errorCode and message on one line (Salesforce quotes the whole query in INVALID_FIELD)."""
    content = getattr(exc, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        message = str(content[0].get("message", ""))
        lines = [line.strip() for line in message.splitlines() if line.strip()]
        if len(lines) > 1:
            message = lines[-1]
        return f"{error_code(exc)}: {message}".strip()
    return f"HTTP {getattr(exc, 'status', '?')}"


@dataclass(frozen=True)
class Backoff:
    """How often and how long to wait before trying a transient failure again."""

    max_retries: int = 5
    base_seconds: float = 0.5
    cap_seconds: float = 30.0

    def allows(self, retries_done: int) -> bool:
        return retries_done < self.max_retries

    def delay(self, retries_done: int, jitter: float = 1.0) -> float:
        """base x 2^retries, at most the cap, times `jitter` (drawn from 0.5-1.5 so that many
        clients do not retry in step)."""
        return min(self.cap_seconds, self.base_seconds * (2 ** retries_done)) * jitter


@dataclass
class ReLogin:
    """Log in again at most once per call, and only when the credentials can renew the session
    (a bare access token cannot)."""

    login_again: Callable[[], None]
    can_refresh: bool
    used: bool = field(default=False)

    def recovers(self, decision: Decision) -> bool:
        """True when it logged in again for `decision` (so the call may be tried once more)."""
        if decision.verdict is not Verdict.RELOGIN or self.used or not self.can_refresh:
            return False
        self.login_again()
        self.used = True
        return True


@dataclass(frozen=True)
class ApiBudget:
    """H3: the share of the org's daily API requests the sync may use before stopping cleanly."""

    share: float = 0.8

    def check(self, used: int | None, limit: int | None) -> None:
        if used is None or not limit:
            return   # no usage reported yet: nothing to hold the call back
        spent = used / limit
        if spent >= self.share:
            raise ApiBudgetExhausted(
                f"The org has used {used} of {limit} daily API requests "
                f"({spent:.0%}, budget {self.share:.0%}); the sync stops here and resumes when usage falls.",
                used=used, limit=limit)


def failure_for(what: str, exc: BaseException, decision: Decision, *, attempts: int, seconds: float,
                host: str, can_refresh: bool, used: int | None = None,
                limit: int | None = None) -> Exception | None:
    """The domain error that ends a call, or None to re-raise `exc` itself (a 4xx such as
    INVALID_FIELD, which callers recognise by its errorCode)."""
    tries = f"{attempts} attempts over {seconds:.0f} s" if attempts > 1 else "1 attempt"
    cause = decision.cause
    if decision.verdict is Verdict.RELOGIN:
        return SalesforceAuthError(
            "Salesforce rejected the session as expired or invalid; "
            + ("set a fresh SALESFORCE_ACCESS_TOKEN (or use client credentials, which renew themselves)."
               if not can_refresh else
               "logging in again did not help: check that the integration user is active and its "
               "credentials are valid."))
    if decision.verdict is Verdict.STOP:
        return ApiBudgetExhausted(
            "Salesforce refused the call: the org's API request limit is exceeded; the sync stops here "
            "and resumes by itself when usage falls (or ask your Salesforce admin for a larger allocation).",
            used=used, limit=limit)
    if cause is Cause.CERTIFICATE:
        return SalesforceCertificateError(
            f"Could not verify the TLS certificate of {host} during {what}; set SALESFORCE_CA_BUNDLE to the "
            "CA file that signed it (for the sandbox org: the ca.pem it wrote, data/sandbox/ca.pem).")
    if cause is Cause.REFUSED_REQUEST:
        return SalesforceApiError(
            f"Salesforce refused {what} ({error_message(exc)}); ask your Salesforce admin to give the "
            "integration user access.", error_code=error_code(exc), status=403)
    if decision.verdict is Verdict.UNCERTAIN:
        return SalesforceConnectionError(
            f"Salesforce did not answer {what} ({decision.reason}); it may have been applied, so it is "
            "not repeated blindly: the next attempt looks Salesforce up first.", reason=decision.reason)
    if cause is Cause.SERVER_ERROR:
        return SalesforceApiError(
            f"Salesforce answered {decision.reason} to {what} ({tries}); it is unavailable or overloaded: "
            "check https://status.salesforce.com, the next cycle tries again.",
            error_code=error_code(exc), status=getattr(exc, "status", None))
    if cause is Cause.ROW_LOCK:
        return SalesforceApiError(
            f"Salesforce kept the records locked (UNABLE_TO_LOCK_ROW) during {what} ({tries}); another job "
            "in the org is writing them: the next cycle tries again.", error_code="UNABLE_TO_LOCK_ROW", status=400)
    if cause is Cause.REFUSED:
        return SalesforceConnectionError(
            f"Could not reach Salesforce at {host} during {what} ({decision.reason}, {tries}); check "
            "SALESFORCE_INSTANCE_URL and the network (is the sandbox org running? `conversion-sync sandbox`).",
            reason=decision.reason)
    if cause in (Cause.TIMEOUT, Cause.CONNECTION_LOST):
        return SalesforceConnectionError(
            f"Lost the connection to Salesforce at {host} during {what} ({decision.reason}, {tries}); "
            "check the network, the next cycle tries again.", reason=decision.reason)
    return None


def run_call(what: str, attempt: Callable[[], T], *, idempotent: bool, backoff: Backoff, relogin: ReLogin,
             fail: Callable[[BaseException, Decision, int, float], Exception | None],
             sleep: Callable[[float], None] | None = None, jitter: Callable[[], float] | None = None,
             clock: Callable[[], float] | None = None) -> T:
    """Run `attempt()` until it answers: classify each failure, log in again once on an expired
    session, retry what is transient with backoff, and end with `fail(exc, decision, attempts,
    seconds)` (a domain error, or None to re-raise the original). `sleep`, `jitter` and `clock`
    default to time.sleep, 0.5-1.5 at random and time.monotonic (looked up at each call)."""
    sleep = sleep or time.sleep
    jitter = jitter or (lambda: random.uniform(0.5, 1.5))
    clock = clock or time.monotonic
    retries = 0
    started = clock()
    while True:
        try:
            return attempt()
        except Exception as exc:
            decision = classify(exc, idempotent=idempotent)
            if relogin.recovers(decision):
                log.info("Salesforce session expired during %s; logged in again", what)
                continue
            if decision.verdict is not Verdict.RETRY or not backoff.allows(retries):
                failure = fail(exc, decision, retries + 1, clock() - started)
                if failure is None:
                    raise
                raise failure from exc
        delay = backoff.delay(retries, jitter())
        retries += 1
        log.warning("%s failed (%s); retry %d/%d in %.2f s", what, decision.reason, retries,
                    backoff.max_retries, delay)
        sleep(delay)
