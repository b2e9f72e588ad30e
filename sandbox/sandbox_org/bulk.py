"""Bulk API 2.0: query jobs (CSV results with locators) and ingest jobs (CSV uploads).

Query jobs evaluate their SOQL when created (a snapshot) and report JobComplete from the first
status poll; results before that answer 412 JOB_NOT_COMPLETE. Ingest jobs are processed when the
client sets `UploadComplete`, in chunks of 200 rows that share one timestamp; empty CSV values leave
a field unchanged and `#N/A` sets it to null, as in Salesforce.
"""

from __future__ import annotations

import base64
import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import dml
from .engine import Result, execute
from .errors import SandboxError, not_found
from .httpio import CSV_TYPE, Request, Response, json_response, no_content
from .ids import OBJECT_BY_PREFIX
from .schema import ID_TYPES
from .soql import parse
from .values import format_rest_datetime, to_csv

if TYPE_CHECKING:
    from .org import SandboxOrg
    from .router import Context

logger = logging.getLogger(__name__)

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
CHUNK = 200
DEFAULT_MAX_RECORDS = 50000
MAX_JOBS = 500  # older finished jobs are forgotten (Salesforce deletes them after 7 days)


@dataclass
class Job:
    """A Bulk 2.0 job of either kind."""

    id: str
    kind: str  # query / ingest
    operation: str
    sobject: str
    created_ms: int
    version: str
    delimiter: str = "COMMA"
    line_ending: str = "LF"
    state: str = "Open"
    external_id: str | None = None
    result: Result | None = None
    uploads: list[bytes] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    succeeded: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    error_message: str | None = None

    def info(self, org: SandboxOrg) -> dict[str, Any]:
        created = format_rest_datetime(self.created_ms)
        data: dict[str, Any] = {
            "id": self.id, "operation": self.operation, "object": self.sobject,
            "createdById": org.integration_user_id, "createdDate": created, "systemModstamp": created,
            "state": self.state, "concurrencyMode": "Parallel", "contentType": "CSV",
            "apiVersion": float(self.version), "lineEnding": self.line_ending, "columnDelimiter": self.delimiter,
        }
        if self.kind == "query":
            data.update({"jobType": "V2Query", "numberRecordsProcessed": self.result.total if self.result else 0,
                         "retries": 0, "totalProcessingTime": 0})
        else:
            if self.external_id:
                data["externalIdFieldName"] = self.external_id
            data.update({"jobType": "V2Ingest", "contentUrl": f"services/data/v{self.version}/jobs/ingest/{self.id}/batches",
                         "numberRecordsProcessed": len(self.succeeded) + len(self.failed),
                         "numberRecordsFailed": len(self.failed), "retries": 0, "totalProcessingTime": 0,
                         "apiActiveProcessingTime": 0, "apexProcessingTime": 0})
        if self.error_message:
            data["errorMessage"] = self.error_message
        return data


def resolve(method: str, seg: list[str]) -> tuple[str, Any]:
    """Route below `jobs/query` and `jobs/ingest`."""
    kind = "bulk_query" if seg[1] == "query" else "bulk_ingest"
    n = len(seg)
    if n == 2:
        return kind, {"POST": create_job, "GET": list_jobs}.get(method)
    if n == 3:
        return kind, {"GET": get_job, "PATCH": patch_job, "DELETE": delete_job}.get(method)
    if n == 4 and seg[1] == "query" and seg[3] == "results" and method == "GET":
        return kind, query_results
    if n == 4 and seg[1] == "ingest" and seg[3] == "batches" and method == "PUT":
        return kind, upload
    if n == 4 and seg[1] == "ingest" and method == "GET" and seg[3] in ("successfulResults", "failedResults",
                                                                        "unprocessedRecords"):
        return kind, ingest_results
    return kind, None


def _csv(rows: Sequence[Sequence[str | None]], delimiter: str, line_ending: str) -> bytes:
    """Salesforce-style CSV: every non-null value quoted, null as an empty field."""
    sep = DELIMITERS[delimiter]
    end = LINE_ENDINGS[line_ending]
    out = []
    for row in rows:
        out.append(sep.join("" if v is None else '"' + v.replace('"', '""') + '"' for v in row))
    return (end.join(out) + end).encode("utf-8") if out else b""


def _shorten(value: Any, ftype: str, short_ids: bool) -> Any:
    """An id or lookup in its 15-character form when the org answers so (`answer_short_ids`)."""
    return value[:15] if short_ids and value and ftype in ID_TYPES else value


def _remember(org: SandboxOrg, job: Job) -> None:
    """Store a new job, forgetting the oldest finished ones beyond MAX_JOBS."""
    org.jobs[job.id] = job
    if len(org.jobs) > MAX_JOBS:
        for old_id in [j.id for j in org.jobs.values() if j.state in ("JobComplete", "Failed", "Aborted")]:
            del org.jobs[old_id]
            if len(org.jobs) <= MAX_JOBS:
                break


def _job(org: SandboxOrg, ctx: Context) -> Job:
    job = org.jobs.get(ctx.segments[2])
    if job is None or job.kind != ctx.segments[1]:
        raise not_found()
    return job


def create_job(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    body = request.json()
    if not isinstance(body, dict):
        raise SandboxError("JSON_PARSER_ERROR", "The request body must be a JSON object")
    delimiter = body.get("columnDelimiter") or "COMMA"
    line_ending = body.get("lineEnding") or "LF"
    if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
        raise SandboxError("INVALIDJOB", "Invalid columnDelimiter or lineEnding")
    operation = body.get("operation")
    if ctx.segments[1] == "query":
        if operation not in ("query", "queryAll"):
            raise SandboxError("INVALIDJOB", f"Invalid operation for a query job: {operation}")
        parsed = parse(body.get("query") or "")
        if parsed.count_only or any(item.aggregate for item in parsed.select) or parsed.offset:
            raise SandboxError("API_ERROR", "Aggregate queries and OFFSET are not supported by Bulk API 2.0 query jobs")
        with org.lock:
            result = execute(parsed, org.api_tables(), operation == "queryAll", org.clock.now_ms())
            job = Job(org.idgen.next("750"), "query", operation, result.sobject, org.clock.now_ms(), ctx.version,
                      delimiter, line_ending, state="UploadComplete", result=result)
            _remember(org, job)
            org.usage.bulk_query_jobs += 1
            return json_response(200, job.info(org))
    if operation not in INGEST_OPERATIONS:
        raise SandboxError("INVALIDJOB", f"Invalid operation: {operation}")
    with org.lock:
        try:
            sobject = org.table(body.get("object") or "").schema.name
        except SandboxError:
            raise SandboxError("INVALIDJOB", f"Entity '{body.get('object')}' is not supported by the Bulk API.") from None
        external = body.get("externalIdFieldName")
        if operation == "upsert":
            fdef = org.tables[sobject].schema.get(external or "")
            if fdef is None or not (fdef.external_id or fdef.name == "Id"):
                raise SandboxError("INVALIDJOB", f"External ID was blank or not an external id field for {sobject}: "
                                   f"{external}")
            external = fdef.name
        job = Job(org.idgen.next("750"), "ingest", operation, sobject, org.clock.now_ms(), ctx.version,
                  delimiter, line_ending, external_id=external if operation == "upsert" else None)
        _remember(org, job)
        return json_response(200, job.info(org))


def list_jobs(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    with org.lock:
        jobs = [j.info(org) for j in org.jobs.values() if j.kind == ctx.segments[1]]
    return json_response(200, {"done": True, "records": jobs, "nextRecordsUrl": None})


def get_job(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    with org.lock:
        job = _job(org, ctx)
        if job.kind == "query" and job.state == "UploadComplete":
            job.state = "JobComplete"  # the first poll finds it done
        elif job.kind == "ingest" and job.state == "UploadComplete":
            job.state = "JobComplete"
        return json_response(200, job.info(org))


def delete_job(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    with org.lock:
        job = _job(org, ctx)
        del org.jobs[job.id]
    return no_content()


def patch_job(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    body = request.json()
    state = body.get("state") if isinstance(body, dict) else None
    with org.lock:
        job = _job(org, ctx)
        if state == "Aborted":
            if job.state in ("JobComplete", "Failed", "Aborted"):
                raise SandboxError("INVALIDJOBSTATE", f"Job is already {job.state}")
            if job.kind == "ingest":
                job.unprocessed = _rows(job)[1]
            job.state = "Aborted"
        elif state == "UploadComplete" and job.kind == "ingest":
            if job.state != "Open":
                raise SandboxError("INVALIDJOBSTATE", f"Job is {job.state}, not Open")
            _process(org, job)
            if job.state != "Failed":
                job.state = "UploadComplete"
        else:
            raise SandboxError("INVALIDJOBSTATE", f"Can't change the job state to {state}")
        return json_response(200, job.info(org))


def query_results(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    """GET jobs/query/{id}/results?maxRecords=&locator= -> CSV page + Sforce-Locator."""
    with org.lock:
        job = _job(org, ctx)
        if job.state != "JobComplete" or job.result is None:
            raise SandboxError("JOB_NOT_COMPLETE", "can only download query results of successfully completed bulk "
                               f"job with status: JOB_COMPLETE. Current status: {job.state.upper()}", status=412)
    try:
        max_records = int(request.param("maxRecords") or DEFAULT_MAX_RECORDS)
        locator = request.param("locator")
        start = int(base64.b64decode(locator + "==").decode()) if locator else 0
    except ValueError:
        raise SandboxError("INVALIDLOCATOR", "Invalid locator or maxRecords") from None
    result = job.result
    stop = min(result.total, start + max(1, max_records))
    specs = [(f.pos, f.type) for f in result.fields]
    rows: list[list[str | None]] = [[f.name for f in result.fields]]
    rows.extend([to_csv(_shorten(row[pos], ftype, org.short_ids), ftype) for pos, ftype in specs]
                for row in result.rows(start, stop))
    next_locator = base64.b64encode(str(stop).encode()).decode().rstrip("=") if stop < result.total else "null"
    return Response(200, _csv(rows, job.delimiter, job.line_ending), CSV_TYPE,
                    {"Sforce-Locator": next_locator, "Sforce-NumberOfRecords": str(stop - start)})


def upload(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    with org.lock:
        job = _job(org, ctx)
        if job.state != "Open":
            raise SandboxError("INVALIDJOBSTATE", f"Job is {job.state}; data can only be uploaded to an Open job")
        job.uploads.append(request.body)
    return Response(201, b"", None)


def _rows(job: Job) -> tuple[list[str], list[list[str]]]:
    text = b"".join(job.uploads).decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[job.delimiter])
    rows = [r for r in reader if r]
    return (rows[0], rows[1:]) if rows else ([], [])


def _apply_row(org: SandboxOrg, job: Job, header: list[str], values: list[str], stamp: int) -> tuple[str, bool]:
    body: dict[str, Any] = {}
    for name, value in zip(header, values, strict=False):
        if value == "":
            continue
        body[name] = None if value == "#N/A" else value
    record_id = next((v for k, v in body.items() if k.lower() == "id"), None)
    user = org.integration_user_id
    if job.operation == "insert":
        return dml.insert_record(org, job.sobject, body, stamp, user), True
    if job.operation in ("delete", "hardDelete"):
        if not record_id or OBJECT_BY_PREFIX.get(str(record_id)[:3]) != job.sobject:
            raise SandboxError("MALFORMED_ID", f"bad id {record_id}", ["Id"])
        rid = dml.delete_record(org, job.sobject, record_id, stamp, user)
        if job.operation == "hardDelete":
            org.tables[job.sobject].remove(rid)
        return rid, False
    if job.operation == "update" or (job.operation == "upsert" and job.external_id == "Id" and record_id):
        if not record_id:
            raise SandboxError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        rest = {k: v for k, v in body.items() if k.lower() != "id"}
        return dml.update_record(org, job.sobject, record_id, rest, stamp, user), False
    table = org.tables[job.sobject]
    fdef = table.schema.get(job.external_id or "")
    key_value = next((v for k, v in body.items() if fdef and k.lower() == fdef.name.lower()), None)
    if fdef is None or key_value is None:
        raise SandboxError("MISSING_ARGUMENT", f"{job.external_id} not specified", [job.external_id or ""])
    matches = [rid for rid in table.lookup(fdef.pos, dml.coerce(org, fdef, key_value)) if not table.rows[rid][1]]
    if len(matches) > 1:
        raise SandboxError("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {key_value}", [fdef.name])
    if matches:
        rest = {k: v for k, v in body.items() if k.lower() != fdef.name.lower()}
        return dml.update_record(org, job.sobject, matches[0], rest, stamp, user), False
    return dml.insert_record(org, job.sobject, body, stamp, user), True


def _process(org: SandboxOrg, job: Job) -> None:
    """Apply the uploaded CSV (caller holds the lock)."""
    header, rows = _rows(job)
    job.columns = header
    schema = org.api_schema(job.sobject)
    unknown = [h for h in header if schema.get(h) is None]
    if unknown or not header:
        job.state = "Failed"
        job.error_message = f"InvalidBatch : Field name not found : {unknown[0] if unknown else '(no header)'}"
        job.unprocessed = rows
        return
    for start in range(0, len(rows), CHUNK):
        stamp = org.clock.stamp()
        for values in rows[start:start + CHUNK]:
            try:
                rid, created = _apply_row(org, job, header, values, stamp)
                job.succeeded.append([rid, "true" if created else "false", *values])
            except SandboxError as exc:
                error = SandboxError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id") \
                    if exc.code == "NOT_FOUND" else exc
                record_id = next((v for k, v in zip(header, values, strict=False) if k.lower() == "id"), "")
                job.failed.append([record_id, error.bulk_error(), *values])
    org.usage.bulk_batches += max(1, -(-len(rows) // 10000))
    logger.info("bulk %s %s: %d ok, %d failed", job.operation, job.sobject, len(job.succeeded), len(job.failed))


def ingest_results(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    with org.lock:
        job = _job(org, ctx)
        kind = ctx.segments[3]
        if kind == "successfulResults":
            rows = [["sf__Id", "sf__Created", *job.columns], *job.succeeded]
        elif kind == "failedResults":
            rows = [["sf__Id", "sf__Error", *job.columns], *job.failed]
        else:
            header, _ = _rows(job) if not job.columns else (job.columns, None)
            rows = [header, *job.unprocessed]
    return Response(200, _csv(rows, job.delimiter, job.line_ending), CSV_TYPE)
