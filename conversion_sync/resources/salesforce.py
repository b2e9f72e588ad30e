"""The Salesforce resource: simple-salesforce with authentication, retries, lazy paging, Bulk API
2.0, sObject Collections, API-call accounting and the API budget of H3."""

from __future__ import annotations

import csv
import io
import logging
import random
import re
import threading
import time
from collections import Counter
from typing import Any, Callable, Iterator, TypeVar

import dagster as dg
import requests
from pydantic import Field, PrivateAttr
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from conversion_sync.config import SalesforceSettings, salesforce_settings_from_env
from conversion_sync.errors import (
    ApiBudgetExhausted,
    SalesforceApiError,
    SalesforceAuthError,
    SalesforceCertificateError,
    SalesforceConnectionError,
)
from conversion_sync.resources.salesforce_auth import API_VERSION, VerifiedSession, login
from conversion_sync.resources.salesforce_retry import Cause, Decision, Verdict, classify, error_code

log = logging.getLogger(__name__)

T = TypeVar("T")
COLLECTION_LIMIT = 200
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


def error_message(exc: SalesforceError) -> str:
    """errorCode and message on one line (Salesforce quotes the whole query in INVALID_FIELD)."""
    content = getattr(exc, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        message = str(content[0].get("message", ""))
        lines = [line.strip() for line in message.splitlines() if line.strip()]
        if len(lines) > 1:
            message = lines[-1]
        return f"{error_code(exc)}: {message}".strip()
    return f"HTTP {getattr(exc, 'status', '?')}"


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


class SalesforceClient:
    """One authenticated connection to the org, used by one run (its API calls are counted)."""

    def __init__(self, settings: SalesforceSettings, *, timeout_seconds: float = 60.0,
                 max_retries: int = 5, backoff_seconds: float = 0.5, budget_share: float = 0.8):
        self.settings = settings
        self.usage = ApiUsage()
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.budget_share = budget_share
        self._session = VerifiedSession(settings.ca_bundle, timeout_seconds, on_response=self.usage.observe)
        self._login = login(settings, self._session)
        self._sf = self._build()
        self._describe_cache: dict[str, dict[str, Any]] = {}

    def _build(self) -> Salesforce:
        return Salesforce(instance_url=self._login.instance_url, session_id=self._login.access_token,
                          session=self._session, version=API_VERSION)

    def _relogin(self, what: str) -> None:
        log.info("Salesforce session expired during %s; logging in again", what)
        self._login = login(self.settings, self._session)
        self._sf = self._build()

    @property
    def sf(self) -> Salesforce:
        return self._sf

    # -- the retry/re-auth/budget envelope ------------------------------------------------------
    def call(self, what: str, fn: Callable[[Salesforce], T], *, idempotent: bool = True,
             budgeted: bool = True) -> T:
        """Run `fn(sf)`; on failure do what `salesforce_retry.classify` says: retry with exponential
        backoff and jitter (5xx, timeouts, lost connections, row locks), log in again once on an
        expired session, stop on the org's request limit, or fail at once (a certificate that does
        not verify, other 4xx). A non-idempotent call (a create) whose answer is lost is not repeated.

        `budgeted` calls first check the API budget (H3); reading the limits does not."""
        if budgeted:
            self.check_budget()
        attempt = 0
        reauthenticated = False
        started = time.monotonic()
        while True:
            try:
                return fn(self._sf)
            except Exception as exc:
                decision = classify(exc, idempotent=idempotent)
                if decision.verdict is Verdict.RELOGIN and not reauthenticated and self._login.can_refresh:
                    self._relogin(what)
                    reauthenticated = True
                    continue
                if decision.verdict is not Verdict.RETRY or attempt >= self.max_retries:
                    failure = self._failure(what, exc, decision, attempts=attempt + 1,
                                            seconds=time.monotonic() - started)
                    if failure is None:
                        raise
                    raise failure from exc
            delay = min(30.0, self.backoff_seconds * (2 ** attempt)) * random.uniform(0.5, 1.5)
            attempt += 1
            log.warning("%s failed (%s); retry %d/%d in %.2f s", what, decision.reason, attempt,
                        self.max_retries, delay)
            time.sleep(delay)

    def _failure(self, what: str, exc: BaseException, decision: Decision, *, attempts: int,
                 seconds: float) -> Exception | None:
        """The domain error that ends a call, or None to re-raise `exc` itself (a 4xx such as
        INVALID_FIELD, which callers recognise by its errorCode)."""
        host = self._login.instance_url
        tries = f"{attempts} attempts over {seconds:.0f} s" if attempts > 1 else "1 attempt"
        cause = decision.cause
        if decision.verdict is Verdict.RELOGIN:
            return SalesforceAuthError(
                "Salesforce rejected the session as expired or invalid; "
                + ("set a fresh SALESFORCE_ACCESS_TOKEN (or use client credentials, which renew themselves)."
                   if not self._login.can_refresh else
                   "logging in again did not help: check that the integration user is active and its "
                   "credentials are valid."))
        if decision.verdict is Verdict.STOP:
            return ApiBudgetExhausted(
                "Salesforce refused the call: the org's API request limit is exceeded; the sync stops here "
                "and resumes by itself when usage falls (or ask your Salesforce admin for a larger allocation).",
                used=self.usage.used, limit=self.usage.limit)
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

    def check_budget(self) -> None:
        """Stop cleanly (H3) once the configured share of the daily allocation is used."""
        share = self.usage.share_used()
        if share is not None and share >= self.budget_share:
            raise ApiBudgetExhausted(
                f"The org has used {self.usage.used} of {self.usage.limit} daily API requests "
                f"({share:.0%}, budget {self.budget_share:.0%}); the sync stops here and resumes when usage falls.",
                used=self.usage.used, limit=self.usage.limit)

    # -- reads -----------------------------------------------------------------------------------
    def limits(self) -> tuple[int, int]:
        """(used, max) of DailyApiRequests, also recorded as the last known usage."""
        body = self.call("reading the API limits", lambda sf: sf.limits(), budgeted=False)
        daily = body.get("DailyApiRequests", {})
        limit = int(daily.get("Max", 0))
        used = limit - int(daily.get("Remaining", 0))
        self.usage.used, self.usage.limit = used, limit
        return used, limit

    def describe(self, sobject: str, *, fresh: bool = False) -> dict[str, Any]:
        if fresh or sobject not in self._describe_cache:
            self._describe_cache[sobject] = self.call(
                f"describing {sobject}", lambda sf: getattr(sf, sobject).describe())
        return self._describe_cache[sobject]

    def field_names(self, sobject: str, *, fresh: bool = False) -> dict[str, dict[str, Any]]:
        """Field name -> describe entry, for checking the mapping and read-only fields."""
        return {field["name"]: field for field in self.describe(sobject, fresh=fresh).get("fields", [])}

    def query_pages(self, soql: str, *, include_deleted: bool = False,
                    batch_size: int | None = None) -> Iterator[list[dict[str, Any]]]:
        """Lazily yield the pages of a SOQL query (each page retried on its own)."""
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else {}
        result = self.call("a SOQL query", lambda sf: sf.query(soql, include_deleted=include_deleted,
                                                                 headers=headers))
        while True:
            yield [_strip_attributes(record) for record in result.get("records", [])]
            next_url = result.get("nextRecordsUrl")
            if result.get("done", True) or not next_url:
                return
            result = self.call("fetching the next page of a query",
                               lambda sf: sf.query_more(next_url, identifier_is_url=True, headers=headers))

    def query(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        return [record for page in self.query_pages(soql, include_deleted=include_deleted) for record in page]

    def count(self, soql: str, *, include_deleted: bool = False) -> int:
        result = self.call("a COUNT() query", lambda sf: sf.query(soql, include_deleted=include_deleted))
        return int(result.get("totalSize", 0))

    def bulk_query_pages(self, sobject: str, soql: str, *, include_deleted: bool = False,
                         page_size: int = 50_000) -> Iterator[list[dict[str, Any]]]:
        """Bulk API 2.0 query; yields pages of records with CSV nulls ("") as None.

        An expired session restarts the job once after logging in again; pages already yielded
        come again, which the idempotent staging upsert absorbs."""
        for attempt in range(2):
            self.check_budget()
            handler = getattr(self._sf.bulk2, sobject)
            method = handler.query_all if include_deleted else handler.query
            try:
                for chunk in method(soql, max_records=page_size, wait=0.2):
                    reader = csv.DictReader(io.StringIO(chunk))
                    yield [{key: (value if value != "" else None) for key, value in row.items()} for row in reader]
                return
            except SalesforceExpiredSession:
                if attempt or not self._login.can_refresh:
                    raise SalesforceAuthError(
                        "Salesforce rejected the session as expired or invalid during a Bulk API query.") from None
                self._relogin("a Bulk API query")

    # -- writes ----------------------------------------------------------------------------------
    def collection_create(self, records: list[dict[str, Any]], *, all_or_none: bool = False) -> list[dict[str, Any]]:
        """sObject Collections create (≤200 records, each with attributes.type); not retried on
        connection loss, because the records may have been created (the caller looks up)."""
        _check_collection(records)
        return self.call("creating records", lambda sf: sf.restful(
            "composite/sobjects", method="POST", json={"allOrNone": all_or_none, "records": records}),
            idempotent=False)

    def collection_update(self, records: list[dict[str, Any]], *, all_or_none: bool = False) -> list[dict[str, Any]]:
        """sObject Collections update (≤200 records, each with attributes.type and id)."""
        _check_collection(records)
        return self.call("updating records", lambda sf: sf.restful(
            "composite/sobjects", method="PATCH", json={"allOrNone": all_or_none, "records": records}))

    def collection_upsert(self, sobject: str, external_id_field: str,
                          records: list[dict[str, Any]], *, all_or_none: bool = False) -> list[dict[str, Any]]:
        """sObject Collections upsert by an external id: idempotent, so retried like a read."""
        _check_collection(records)
        return self.call("upserting records", lambda sf: sf.restful(
            f"composite/sobjects/{sobject}/{external_id_field}", method="PATCH",
            json={"allOrNone": all_or_none, "records": records}))

    def bulk_ingest(self, sobject: str, operation: str, records: list[dict[str, Any]],
                    *, external_id_field: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Bulk API 2.0 ingest; returns {"successful": [...], "failed": [...]} result rows."""
        self.check_budget()
        handler = getattr(self._sf.bulk2, sobject)
        rows = [{key: ("" if value is None else value) for key, value in record.items()} for record in records]
        if operation == "upsert":
            results = handler.upsert(records=rows, external_id_field=external_id_field, wait=0.2)
        else:
            results = getattr(handler, operation)(records=rows, wait=0.2)
        outcome: dict[str, list[dict[str, Any]]] = {"successful": [], "failed": []}
        for result in results:
            job_id = result["job_id"]
            for kind, getter in (("successful", handler.get_successful_records),
                                 ("failed", handler.get_failed_records)):
                text = getter(job_id)
                outcome[kind].extend(csv.DictReader(io.StringIO(text)) if text else [])
        return outcome


def _strip_attributes(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != "attributes"}


def _check_collection(records: list[dict[str, Any]]) -> None:
    if len(records) > COLLECTION_LIMIT:
        raise ValueError(f"sObject Collections take at most {COLLECTION_LIMIT} records per call")


class SalesforceResource(dg.ConfigurableResource):
    """Salesforce, reached with simple-salesforce over verified HTTPS.

    Connection settings come from the SALESFORCE_* environment variables at run time (SPEC §4),
    so no secret is ever part of run configuration or shown in the UI."""

    timeout_seconds: float = Field(default=60.0, description="Per-request timeout.")
    max_retries: int = Field(default=5, description="Retries for 5xx, timeouts, connection errors, row locks.")
    backoff_seconds: float = Field(default=0.5, description="First retry delay; doubles per retry, with jitter.")

    _settings: SalesforceSettings | None = PrivateAttr(default=None)

    def settings(self) -> SalesforceSettings:
        if self._settings is None:
            self._settings = salesforce_settings_from_env()
        return self._settings

    def client(self, *, budget_share: float = 0.8) -> SalesforceClient:
        """A freshly authenticated client whose API calls are counted separately."""
        return SalesforceClient(self.settings(), timeout_seconds=self.timeout_seconds,
                                max_retries=self.max_retries, backoff_seconds=self.backoff_seconds,
                                budget_share=budget_share)
