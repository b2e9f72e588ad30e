"""Bulk API 2.0 jobs, one HTTP request per step, so that every step runs under the call policy
(budget, retry with backoff, re-login once): a 503 on page 19 of a million-record query repeats
that page's request, not the whole job, and an expired session in the middle of a job logs in again
and carries on with the same job.

simple-salesforce's `bulk2.<Object>.query()` runs create, poll and fetch as one generator that
cannot be resumed after a failure, so the steps are driven here through its per-request job
client (`SFBulk2Type._client`, simple-salesforce 1.12)."""

from __future__ import annotations

import contextlib
import csv
import io
import time
from collections.abc import Callable, Iterator
from typing import Any

from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import JobState, Operation

from conversion_sync.errors import SalesforceApiError

# The policy around one request: call(what, fn(sf), idempotent=...) -> fn's answer.
Call = Callable[..., Any]
NULL = "#N/A"                  # sets a field to null in a Bulk 2.0 upload; an empty field leaves it as it is

POLL_FIRST_SECONDS = 0.05      # a small job is often complete at once: look soon, then less often
POLL_MAX_SECONDS = 2.0
MAX_WAIT_SECONDS = 6 * 3600    # a job still running after this is given up (it holds the sync)


def jobs(sf: Salesforce, sobject: str) -> Any:
    """simple-salesforce's per-request Bulk 2.0 client for `sobject`, built on the current session
    (after a re-login, the new one)."""
    return getattr(sf.bulk2, sobject)._client


def query_pages(call: Call, sobject: str, soql: str, *, include_deleted: bool, page_size: int,
                sleep: Callable[[float], None] = time.sleep,
                clock: Callable[[], float] = time.monotonic) -> Iterator[str]:
    """The CSV text of each result page of a Bulk 2.0 query job (first line the header)."""
    operation = Operation.query_all if include_deleted else Operation.query
    job = call(f"starting a Bulk API query of {sobject}",
               lambda sf: jobs(sf, sobject).create_job(operation, soql))
    job_id = str(job["id"])
    wait_for_job(call, sobject, job_id, is_query=True, what=f"the Bulk API query of {sobject}",
                 sleep=sleep, clock=clock)
    locator = ""
    while True:
        page = call(f"fetching a page of the Bulk API query of {sobject}",
                    lambda sf: jobs(sf, sobject).get_query_results(job_id, locator, page_size))  # noqa: B023 (called at once)
        yield page["records"]
        locator = page["locator"]
        if not locator:
            return


def wait_for_job(call: Call, sobject: str, job_id: str, *, is_query: bool, what: str,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Poll the job until it is complete (its info), or end with one sentence when Salesforce
    failed or aborted it, or it ran past MAX_WAIT_SECONDS."""
    started, delay = clock(), POLL_FIRST_SECONDS
    while True:
        info = call(f"checking {what}", lambda sf: jobs(sf, sobject).get_job(job_id, is_query))
        state = info.get("state")
        if state == JobState.job_complete:
            return dict(info)
        if state in (JobState.failed, JobState.aborted):
            reason = info.get("errorMessage") or "no reason given"
            raise SalesforceApiError(
                f"Salesforce ended {what} as {state} ({reason}); the next cycle tries again.",
                error_code=f"BULK_JOB_{str(state).upper()}")
        if clock() - started > MAX_WAIT_SECONDS:
            raise SalesforceApiError(
                f"{what[0].upper()}{what[1:]} was still {state} after {MAX_WAIT_SECONDS // 3600} hours; "
                "it is given up and the next cycle tries again.", error_code="BULK_JOB_TIMEOUT")
        sleep(delay)
        delay = min(POLL_MAX_SECONDS, delay * 2)


def upload_csv(rows: list[dict[str, Any]]) -> str:
    """The CSV a Bulk 2.0 upload takes: one column per field any row names; a field a row does not
    name is left empty (Salesforce leaves it as it is), None is #N/A (Salesforce sets it to null)."""
    columns = sorted({column for row in rows for column in row})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([("" if column not in row else NULL if row[column] is None else row[column])
                         for column in columns])
    return out.getvalue()


def ingest(call: Call, sobject: str, operation: str, rows: list[dict[str, Any]], *,
           external_id_field: str | None = None,
           sleep: Callable[[float], None] = time.sleep,
           clock: Callable[[], float] = time.monotonic) -> dict[str, str]:
    """One Bulk 2.0 ingest job for `rows` (None sets a field to null): the CSV text of its
    successful and failed result rows. The upload is not repeated when its answer is lost (a
    second upload to the same job is refused); the job is aborted if it cannot be completed."""
    if not rows:
        return {"successful": "", "failed": ""}
    data = upload_csv(rows)
    what = f"the Bulk API {operation} of {len(rows)} {sobject} records"
    job = call(f"starting {what}", lambda sf: jobs(sf, sobject).create_job(
        Operation(operation), external_id_field=external_id_field))
    job_id = str(job["id"])
    try:
        call(f"uploading {what}", lambda sf: jobs(sf, sobject).upload_job_data(job_id, data), idempotent=False)
        call(f"closing {what}", lambda sf: jobs(sf, sobject).close_job(job_id))
    except Exception:
        with contextlib.suppress(Exception):   # the job expires on its own; the first failure is the one to report
            call(f"aborting {what}", lambda sf: jobs(sf, sobject).abort_job(job_id, False))
        raise
    wait_for_job(call, sobject, job_id, is_query=False, what=what, sleep=sleep, clock=clock)
    return {kind: call(f"reading the {kind} results of {what}",
                       lambda sf, results=results: jobs(sf, sobject).get_ingest_results(job_id, results))
            for kind, results in (("successful", "successfulResults"), ("failed", "failedResults"))}
