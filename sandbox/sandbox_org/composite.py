"""sObject Collections: create, update, upsert, retrieve and delete up to 200 records per call.

Each record gets a SaveResult in input order (`{"id", "success", "errors": [{"statusCode",
"message", "fields"}]}`), HTTP 200. With `allOrNone: true` one failure rolls every write of the
request back and the other records report ALL_OR_NONE_OPERATION_ROLLED_BACK. One request is one
transaction: every record written by it carries the same timestamp, as in Salesforce.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import dml
from .errors import SandboxError
from .httpio import Request, Response, json_response
from .ids import OBJECT_BY_PREFIX, InvalidSalesforceId, to_18
from .rest import serializer

if TYPE_CHECKING:
    from .org import SandboxOrg
    from .router import Context

logger = logging.getLogger(__name__)

MAX_RECORDS = 200
ROLLED_BACK = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
               "message": "Record rolled back because not all records were valid and the request was using "
                          "AllOrNone header", "fields": []}


def resolve(method: str, seg: list[str]) -> tuple[str, Any]:
    """Route below `composite/sobjects`."""
    n = len(seg)
    if n == 2:
        return {"POST": ("collections_create", create), "PATCH": ("collections_update", update),
                "DELETE": ("collections_delete", delete)}.get(method, ("other", None))
    if n == 3 and method in ("GET", "POST"):
        return "collections_get", retrieve
    if n == 4 and method == "PATCH":
        return "collections_upsert", upsert
    return "other", None


def _records(request: Request) -> tuple[list[Any], bool]:
    body = request.json()
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SandboxError("JSON_PARSER_ERROR", "The request body must be an object with a records array")
    records = body["records"]
    if len(records) > MAX_RECORDS:
        raise SandboxError("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into "
                                                "this call")
    return records, bool(body.get("allOrNone", False))


def _as_collection_error(exc: SandboxError) -> SandboxError:
    """Per-record wording (SOAP semantics): a missing record is an invalid cross reference."""
    if exc.code == "NOT_FOUND":
        return SandboxError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
    return exc


def _run(org: SandboxOrg, items: list[Any], all_or_none: bool,
         action: Callable[[Any, int, dml.Txn], dict[str, Any]], ids: list[str | None]) -> Response:
    """Apply `action` to every item in one transaction and build the SaveResults."""
    results: list[dict[str, Any]] = []
    with org.lock:
        stamp = org.clock.stamp()
        txn = dml.Txn()
        failed = False
        for n, item in enumerate(items):
            try:
                result = action(item, stamp, txn)
                results.append({**result, "success": True, "errors": []})
            except SandboxError as exc:
                failed = True
                error = _as_collection_error(exc)
                entry: dict[str, Any] = {"success": False, "errors": [error.save_error()]}
                if ids[n]:
                    entry = {"id": ids[n], **entry}
                results.append(entry)
        if failed and all_or_none:
            txn.rollback()
            for n, entry in enumerate(results):
                if entry["success"]:
                    rolled: dict[str, Any] = {"success": False, "errors": [dict(ROLLED_BACK)]}
                    results[n] = {"id": ids[n], **rolled} if ids[n] else rolled
    return json_response(200, results)


def _type_of(org: SandboxOrg, record: Any, record_id: str | None = None) -> str:
    if not isinstance(record, dict):
        raise SandboxError("JSON_PARSER_ERROR", "Each record must be a JSON object")
    attributes = record.get("attributes") or {}
    name = attributes.get("type") if isinstance(attributes, dict) else None
    if not name and record_id:
        name = OBJECT_BY_PREFIX.get(record_id[:3])
    if not name:
        raise SandboxError("INVALID_TYPE", "Must send a concrete entity type.")
    try:
        return org.table(name).schema.name
    except SandboxError:
        raise SandboxError("INVALID_TYPE", f"sObject type '{name}' is not supported.") from None


def _record_id(record: Any) -> str | None:
    if isinstance(record, dict):
        for key, value in record.items():
            if key.lower() == "id" and isinstance(value, str):
                return value
    return None


def create(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    records, all_or_none = _records(request)

    def action(record: Any, stamp: int, txn: dml.Txn) -> dict[str, Any]:
        sobject = _type_of(org, record)
        return {"id": dml.insert_record(org, sobject, record, stamp, org.integration_user_id, txn)}

    return _run(org, records, all_or_none, action, [None] * len(records))


def update(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    records, all_or_none = _records(request)
    ids = [_record_id(r) for r in records]

    def action(record: Any, stamp: int, txn: dml.Txn) -> dict[str, Any]:
        rid = _record_id(record)
        if not rid:
            raise SandboxError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        sobject = _type_of(org, record, rid)
        body = {k: v for k, v in record.items() if k.lower() != "id"}
        return {"id": dml.update_record(org, sobject, rid, body, stamp, org.integration_user_id, txn)}

    return _run(org, records, all_or_none, action, ids)


def delete(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    ids: list[str | None] = [i for i in (request.param("ids") or "").split(",") if i]
    if not ids:
        raise SandboxError("MISSING_ARGUMENT", "The ids parameter is required")
    if len(ids) > MAX_RECORDS:
        raise SandboxError("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into "
                                                "this call")
    all_or_none = (request.param("allOrNone") or "false").lower() == "true"

    def action(record_id: str, stamp: int, txn: dml.Txn) -> dict[str, Any]:
        sobject = OBJECT_BY_PREFIX.get(record_id[:3])
        if sobject is None or len(record_id) not in (15, 18):
            raise SandboxError("MALFORMED_ID", f"malformed id {record_id}")
        return {"id": dml.delete_record(org, sobject, record_id, stamp, org.integration_user_id, txn)}

    return _run(org, ids, all_or_none, action, ids)


def retrieve(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    """GET composite/sobjects/{Obj}?ids=&fields= (or POST with a JSON body): records or null."""
    if request.method == "POST":
        body = request.json()
        ids = list(body.get("ids") or []) if isinstance(body, dict) else []
        fields = list(body.get("fields") or []) if isinstance(body, dict) else []
    else:
        ids = [i for i in (request.param("ids") or "").split(",") if i]
        fields = [f for f in (request.param("fields") or "").split(",") if f]
    if not fields:
        raise SandboxError("MISSING_ARGUMENT", "The fields parameter is required")
    if not ids:
        raise SandboxError("MISSING_ARGUMENT", "The ids parameter is required")
    with org.lock:
        table = org.table(ctx.segments[2])
        visible = org.api_schema(table.schema.name)
        chosen = []
        for name in fields:
            fdef = visible.get(name.strip())
            if fdef is None:
                raise SandboxError("INVALID_FIELD", f"No such column '{name}' on entity '{table.schema.name}'. If you "
                                   f"are attempting to use a custom field, be sure to append the '__c' after the custom "
                                   f"field name. Please reference your WSDL or the describe call for the appropriate "
                                   f"names.")
            chosen.append(fdef)
        rows = []
        for raw in ids:
            try:
                row = table.get(to_18(raw))
            except InvalidSalesforceId:
                raise SandboxError("MALFORMED_ID", f"{table.schema.name} ID: id value of incorrect type: {raw}") from None
            rows.append(row if row is not None and not row[1] else None)
    serialize = serializer(table.schema.name, chosen, ctx.version)
    return json_response(200, [serialize(r) if r is not None else None for r in rows])


def upsert(org: SandboxOrg, request: Request, ctx: Context) -> Response:
    """PATCH composite/sobjects/{Obj}/{ExternalIdField}: UpsertResults with `created`."""
    records, all_or_none = _records(request)
    with org.lock:
        table = org.table(ctx.segments[2])
        fdef = table.schema.get(ctx.segments[3])
    if fdef is None or not fdef.external_id:
        raise SandboxError("NOT_FOUND", f"Provided external ID field does not exist or is not accessible: "
                                        f"{ctx.segments[3]}", status=404)
    sobject = table.schema.name

    def action(record: Any, stamp: int, txn: dml.Txn) -> dict[str, Any]:
        if not isinstance(record, dict):
            raise SandboxError("JSON_PARSER_ERROR", "Each record must be a JSON object")
        value = next((v for k, v in record.items() if k.lower() == fdef.name.lower()), None)
        if value in (None, ""):
            raise SandboxError("MISSING_ARGUMENT", f"{fdef.name} not specified", [fdef.name])
        key = dml.coerce(org, fdef, value)
        matches = [rid for rid in table.lookup(fdef.pos, key) if not table.rows[rid][1]]
        if len(matches) > 1:
            raise SandboxError("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [fdef.name])
        if matches:
            body = {k: v for k, v in record.items() if k.lower() != fdef.name.lower()}
            rid = dml.update_record(org, sobject, matches[0], body, stamp, org.integration_user_id, txn)
            return {"id": rid, "created": False}
        return {"id": dml.insert_record(org, sobject, record, stamp, org.integration_user_id, txn), "created": True}

    return _run(org, records, all_or_none, action, [None] * len(records))
