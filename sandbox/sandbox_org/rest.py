"""REST handlers: SOQL query/queryAll with cursors, sObject CRUD and upsert, describe, limits,
getUpdated/getDeleted. API writes are attributed to the integration user."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import dml
from .engine import Result
from .errors import SandboxError, not_found
from .httpio import JSON_TYPE, Request, Response, json_response, no_content
from .ids import InvalidSalesforceId, to_18
from .schema import ID_TYPES, FieldDef
from .values import format_rest_datetime, parse_datetime_text

if TYPE_CHECKING:
    from .org import SandboxOrg
    from .router import Context

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 2000
_BATCH_RE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)
_LOCATOR_RE = re.compile(r"^(0r8[A-Za-z0-9]{15})-(\d+)$")


@dataclass
class Cursor:
    """A query's snapshot and its page size."""

    result: Result
    batch: int


def serializer(sobject: str, fields: list[FieldDef], version: str,
               short_ids: bool = False) -> Callable[[list], dict[str, Any]]:
    """row -> REST record JSON with `attributes` and the selected fields in order; with
    `short_ids`, ids and lookups in their 15-character form (`SandboxOrg.answer_short_ids`)."""
    url_prefix = f"/services/data/v{version}/sobjects/{sobject}/"
    specs = [(f.name, f.pos, f.type == "datetime", short_ids and f.type in ID_TYPES) for f in fields]

    def serialize(row: list) -> dict[str, Any]:
        record: dict[str, Any] = {"attributes": {"type": sobject, "url": url_prefix + row[0]}}
        for name, pos, is_datetime, shorten in specs:
            value = row[pos]
            if shorten and value:
                value = value[:15]
            record[name] = format_rest_datetime(value) if is_datetime and value is not None else value
        return record

    return serialize


def _batch_size(request: Request, default: int = DEFAULT_BATCH) -> int:
    match = _BATCH_RE.search(request.header("sforce-query-options") or "")
    if not match:
        return default
    return max(200, min(2000, int(match.group(1))))


def _page(org: SandboxOrg, locator: str | None, cursor: Cursor, start: int, version: str) -> Response:
    result = cursor.result
    if result.count_only:
        return json_response(200, {"totalSize": result.total, "done": True, "records": []})
    if result.aggregate is not None:
        record = {"attributes": {"type": "AggregateResult"}, **result.aggregate}
        return json_response(200, {"totalSize": 1, "done": True, "records": [record]})
    stop = min(start + cursor.batch, result.total)
    serialize = serializer(result.sobject, result.fields, version, short_ids=org.short_ids)
    records = [serialize(row) for row in result.rows(start, stop)]
    body: dict[str, Any] = {"totalSize": result.total, "done": stop >= result.total}
    if stop < result.total:
        if locator is None:
            locator = org.store_cursor(cursor)
        body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{stop}"
    body["records"] = records
    return json_response(200, body)


def query(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    """GET query/?q= and queryAll/?q=: the first page; a cursor keeps the rest."""
    soql = request.param("q")
    if soql is None:
        raise SandboxError("MALFORMED_QUERY", "A query string has to be specified")
    result = org.run_query(soql, include_deleted=ctx.segments[0] == "queryAll", as_integration_user=True)
    return _page(org, None, Cursor(result, _batch_size(request)), 0, ctx.version)


def query_more(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    """GET query/{locator}-{offset}: a further page of a stored cursor."""
    match = _LOCATOR_RE.match(ctx.segments[1]) if len(ctx.segments) == 2 else None
    cursor = org.get_cursor(match.group(1)) if match else None
    if match is None or cursor is None or int(match.group(2)) > cursor.result.total:
        raise SandboxError("INVALID_QUERY_LOCATOR", "invalid query locator")
    return _page(org, match.group(1), cursor, int(match.group(2)), ctx.version)


def resources(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    """GET /services/data/vXX.X/: the resources this API version offers."""
    base = f"/services/data/v{ctx.version}"
    return json_response(200, {name: f"{base}/{name}" for name in ("sobjects", "query", "queryAll", "limits",
                                                                    "composite", "jobs")})


def limits(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    with org.lock:
        return json_response(200, org.usage.limits())


# ---------------------------------------------------------------------- sObjects
def resolve_sobjects(method: str, seg: list[str]) -> tuple[str, Any]:
    """Route below `sobjects`: describe, CRUD by id, external-id access, updated/deleted."""
    n = len(seg)
    if n == 1:
        return "describe", describe_global if method == "GET" else None
    if n == 2:
        return {"GET": ("describe", metadata), "POST": ("sobject_create", create)}.get(method, ("other", None))
    if n == 3:
        if seg[2] == "describe":
            return "describe", describe if method == "GET" else None
        if seg[2] in ("updated", "deleted"):
            return ("get_" + seg[2]), (get_updated if seg[2] == "updated" else get_deleted)
        return {"GET": ("sobject_get", get), "PATCH": ("sobject_update", update),
                "DELETE": ("sobject_delete", delete)}.get(method, ("other", None))
    if n == 4:
        return {"GET": ("sobject_get", get_by_external_id), "PATCH": ("sobject_upsert", upsert),
                "DELETE": ("sobject_delete", delete_by_external_id)}.get(method, ("other", None))
    return "other", None


def _sobject(org: SandboxOrg, ctx: Context) -> str:
    return org.table(ctx.segments[1]).schema.name


def _body(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise SandboxError("JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from a non-object value")
    return body


def describe_global(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    with org.lock:
        objects = [t.schema.summary(ctx.version) for t in org.tables.values()]
    return json_response(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objects})


def metadata(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    with org.lock:
        summary = org.table(ctx.segments[1]).schema.summary(ctx.version)
    return json_response(200, {"objectDescribe": summary, "recentItems": []})


def describe(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    with org.lock:
        return json_response(200, org.api_schema(ctx.segments[1]).describe(ctx.version))


def create(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    body = _body(request)
    with org.lock:
        rid = dml.insert_record(org, _sobject(org, ctx), body, org.clock.stamp(), org.integration_user_id)
    return json_response(201, {"id": rid, "success": True, "errors": []})


def _record_json(org: SandboxOrg, sobject: str, row: list, version: str, fields: str | None) -> Response:
    schema = org.api_schema(sobject)
    if fields:
        chosen = []
        for name in fields.split(","):
            fdef = schema.get(name.strip())
            if fdef is None:
                raise SandboxError("INVALID_FIELD", f"No such column '{name.strip()}' on sobject of type {sobject}")
            chosen.append(fdef)
    else:
        chosen = schema.fields
    return json_response(200, serializer(sobject, chosen, version)(row))


def get(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    with org.lock:
        sobject = _sobject(org, ctx)
        try:
            row = org.tables[sobject].get(to_18(ctx.segments[2]))
        except InvalidSalesforceId:
            row = None
        if row is None or row[1]:
            raise not_found()
        return _record_json(org, sobject, row, ctx.version, request.param("fields"))


def update(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    body = _body(request)
    with org.lock:
        dml.update_record(org, _sobject(org, ctx), ctx.segments[2], body, org.clock.stamp(),
                          org.integration_user_id, deleted_status=404)
    return no_content()


def delete(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    with org.lock:
        dml.delete_record(org, _sobject(org, ctx), ctx.segments[2], org.clock.stamp(), org.integration_user_id,
                          deleted_status=404)
    return no_content()


def _external_matches(org: SandboxOrg, sobject: str, field: str, value: str) -> tuple[FieldDef, list[str]]:
    table = org.tables[sobject]
    fdef = table.schema.get(field)
    if fdef is None or not (fdef.external_id or fdef.name == "Id"):
        raise SandboxError("NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field}",
                           status=404)
    if fdef.name == "Id":
        try:
            rid = to_18(value)
        except InvalidSalesforceId:
            raise dml.malformed_id(f"{sobject} ID", value) from None
        row = table.get(rid)
        return fdef, [rid] if row is not None and not row[1] else []
    key = dml.coerce(org, fdef, value)
    return fdef, [rid for rid in table.lookup(fdef.pos, key) if not table.rows[rid][1]]


def _multiple(ids: list[str], sobject: str, version: str) -> Response:
    return Response(300, json.dumps([f"/services/data/v{version}/sobjects/{sobject}/{rid}" for rid in ids]).encode(),
                    JSON_TYPE)


def get_by_external_id(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    with org.lock:
        sobject = _sobject(org, ctx)
        _fdef, ids = _external_matches(org, sobject, ctx.segments[2], ctx.segments[3])
        if not ids:
            raise not_found()
        if len(ids) > 1:
            return _multiple(ids, sobject, ctx.version)
        return _record_json(org, sobject, org.tables[sobject].rows[ids[0]], ctx.version, request.param("fields"))


def upsert(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    """PATCH sobjects/{Obj}/{ExtField}/{value}: 201 created, 200 updated, 300 several matches."""
    body = _body(request)
    with org.lock:
        sobject = _sobject(org, ctx)
        fdef, ids = _external_matches(org, sobject, ctx.segments[2], ctx.segments[3])
        if len(ids) > 1:
            return _multiple(ids, sobject, ctx.version)
        body = {k: v for k, v in body.items() if k.lower() != fdef.name.lower()}
        stamp = org.clock.stamp()
        if ids:
            rid = dml.update_record(org, sobject, ids[0], body, stamp, org.integration_user_id)
            return json_response(200, {"id": rid, "success": True, "errors": [], "created": False})
        if fdef.name == "Id":
            raise not_found()
        body[fdef.name] = ctx.segments[3]
        rid = dml.insert_record(org, sobject, body, stamp, org.integration_user_id)
    return json_response(201, {"id": rid, "success": True, "errors": [], "created": True})


def delete_by_external_id(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    with org.lock:
        sobject = _sobject(org, ctx)
        _fdef, ids = _external_matches(org, sobject, ctx.segments[2], ctx.segments[3])
        if not ids:
            raise not_found()
        if len(ids) > 1:
            return _multiple(ids, sobject, ctx.version)
        dml.delete_record(org, sobject, ids[0], org.clock.stamp(), org.integration_user_id, deleted_status=404)
    return no_content()


def _window(request: Request) -> tuple[int, int]:
    """start/end of getUpdated/getDeleted, seconds truncated as Salesforce does."""
    try:
        start = parse_datetime_text(request.param("start") or "", require_tz=False)
        end = parse_datetime_text(request.param("end") or "", require_tz=False)
    except ValueError:
        raise SandboxError("MALFORMED_QUERY", "start and end must be dateTime values") from None
    start -= start % 60000
    end -= end % 60000
    if start > end:
        raise SandboxError("INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate by at least "
                           "one minute")
    return start, end


def get_updated(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    """GET sobjects/{Obj}/updated/?start=&end=: ids whose SystemModstamp lies in the window."""
    start, end = _window(request)
    with org.lock:
        table = org.table(ctx.segments[1])
        i, j = table.sms_bounds(False, start, True, end, False)
        ids = [e[1] for e in table.live.window(i, j)]
    return json_response(200, {"ids": ids, "latestDateCovered": format_rest_datetime(end)})


def get_deleted(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    """GET sobjects/{Obj}/deleted/?start=&end=: deleted records with their deletion time."""
    start, end = _window(request)
    with org.lock:
        table = org.table(ctx.segments[1])
        i, j = table.sms_bounds(True, start, True, end, False)
        deleted = [{"id": e[1], "deletedDate": format_rest_datetime(e[0])} for e in table.all.window(i, j) if e[2][1]]
        earliest = min((e[0] for e in table.all if e[2][1]), default=start)
    return json_response(200, {"deletedRecords": deleted, "earliestDateAvailable": format_rest_datetime(earliest),
                               "latestDateCovered": format_rest_datetime(end)})
