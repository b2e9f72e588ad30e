"""The Salesforce resource: simple-salesforce over verified HTTPS with lazy paging, Bulk API 2.0 and
sObject Collections; each call runs under the policy of `salesforce_policy` (budget, re-login,
retries) and is counted by `salesforce_usage`."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import dagster as dg
from pydantic import Field, PrivateAttr
from simple_salesforce import Salesforce

from conversion_sync.resources import salesforce_bulk as bulk
from conversion_sync.resources.salesforce_auth import API_VERSION, VerifiedSession, login
from conversion_sync.resources.salesforce_policy import (
    ApiBudget,
    Backoff,
    ReLogin,
    error_message,
    failure_for,
    run_call,
)
from conversion_sync.resources.salesforce_retry import error_code
from conversion_sync.resources.salesforce_usage import ApiUsage
from conversion_sync.settings.salesforce import SalesforceSettings, salesforce_settings_from_env

__all__ = ["ApiUsage", "SalesforceClient", "SalesforceResource", "error_code", "error_message"]

log = logging.getLogger(__name__)

T = TypeVar("T")
# What sObject Collections answer: one result per record (simple-salesforce types restful() as Any | None,
# None being a 204 answer, which these calls never get).
_RECORD_RESULTS = list[dict[str, Any]]
COLLECTION_LIMIT = 200


class SalesforceClient:
    """One authenticated connection to the org, used by one run (its API calls are counted)."""

    def __init__(self, settings: SalesforceSettings, *, timeout_seconds: float = 60.0,
                 max_retries: int = 5, backoff_seconds: float = 0.5, budget_share: float = 0.8):
        self.settings = settings
        self.usage = ApiUsage()
        self.backoff = Backoff(max_retries=max_retries, base_seconds=backoff_seconds)
        self.budget = ApiBudget(budget_share)
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

    # -- the call policy: budget, then classify -> re-login once -> retry with backoff ---------------
    def call(self, what: str, fn: Callable[[Salesforce], T], *, idempotent: bool = True,
             budgeted: bool = True) -> T:
        """Run `fn(sf)` under the policy of `salesforce_policy`: `budgeted` calls first check the
        API budget (H3; reading the limits does not); a failure is classified, an expired session
        logged in again once, a transient failure retried with backoff, anything else ended with
        one sentence. A non-idempotent call (a create) whose answer is lost is not repeated."""
        if budgeted:
            self.check_budget()
        relogin = ReLogin(lambda: self._relogin(what), can_refresh=self._login.can_refresh)
        return run_call(what, lambda: fn(self._sf), idempotent=idempotent, backoff=self.backoff,
                        relogin=relogin, fail=lambda exc, decision, attempts, seconds: failure_for(
                            what, exc, decision, attempts=attempts, seconds=seconds,
                            host=self._login.instance_url, can_refresh=self._login.can_refresh,
                            used=self.usage.used, limit=self.usage.limit))

    def check_budget(self) -> None:
        """Stop cleanly (H3) once the configured share of the daily allocation is used."""
        self.budget.check(self.usage.used, self.usage.limit)

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
                               lambda sf: sf.query_more(next_url, identifier_is_url=True, headers=headers))  # noqa: B023 (called at once)

    def query(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        return [record for page in self.query_pages(soql, include_deleted=include_deleted) for record in page]

    def count(self, soql: str, *, include_deleted: bool = False) -> int:
        result = self.call("a COUNT() query", lambda sf: sf.query(soql, include_deleted=include_deleted))
        return int(result.get("totalSize", 0))

    def bulk_query_pages(self, sobject: str, soql: str, *, include_deleted: bool = False,
                         page_size: int = 50_000) -> Iterator[list[dict[str, Any]]]:
        """Bulk API 2.0 query; yields pages of records with CSV nulls ("") as None. Each request of
        the job (create, poll, every page) runs under the call policy on its own."""
        for text in bulk.query_pages(self.call, sobject, soql, include_deleted=include_deleted,
                                     page_size=page_size):
            yield _csv_records(text)

    # -- writes ----------------------------------------------------------------------------------
    def collection_create(self, records: list[dict[str, Any]], *, all_or_none: bool = False) -> list[dict[str, Any]]:
        """sObject Collections create (≤200 records, each with attributes.type); not retried on
        connection loss, because the records may have been created (the caller looks up)."""
        _check_collection(records)
        return self.call("creating records", lambda sf: cast(_RECORD_RESULTS, sf.restful(
            "composite/sobjects", method="POST", json={"allOrNone": all_or_none, "records": records})),
            idempotent=False)

    def collection_update(self, records: list[dict[str, Any]], *, all_or_none: bool = False) -> list[dict[str, Any]]:
        """sObject Collections update (≤200 records, each with attributes.type and id)."""
        _check_collection(records)
        return self.call("updating records", lambda sf: cast(_RECORD_RESULTS, sf.restful(
            "composite/sobjects", method="PATCH", json={"allOrNone": all_or_none, "records": records})))

    def collection_upsert(self, sobject: str, external_id_field: str,
                          records: list[dict[str, Any]], *, all_or_none: bool = False) -> list[dict[str, Any]]:
        """sObject Collections upsert by an external id: idempotent, so retried like a read."""
        _check_collection(records)
        return self.call("upserting records", lambda sf: cast(_RECORD_RESULTS, sf.restful(
            f"composite/sobjects/{sobject}/{external_id_field}", method="PATCH",
            json={"allOrNone": all_or_none, "records": records})))

    def bulk_ingest(self, sobject: str, operation: str, records: list[dict[str, Any]],
                    *, external_id_field: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Bulk API 2.0 ingest (None sets a field to null); returns {"successful": [...], "failed":
        [...]} result rows."""
        results = bulk.ingest(self.call, sobject, operation, records, external_id_field=external_id_field)
        return {kind: list(csv.DictReader(io.StringIO(text))) if text else [] for kind, text in results.items()}


def _csv_records(text: str) -> list[dict[str, Any]]:
    """A Bulk API 2.0 results page as records, "" (CSV's null) as None; a short row gets None for
    the columns it lacks (as csv.DictReader would give them)."""
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None:
        return []
    width = len(header)
    # A longer row's extra values have no column to go in (zip stops at the header's end).
    return [{key: (value if value != "" else None)
             for key, value in zip(header, row + [""] * (width - len(row)), strict=False)}
            for row in rows if row]


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
