"""The admin HTTP API: the `SandboxOrg` operator methods over `POST /sandbox/admin/<method>`.

Requests carry `Authorization: Bearer <admin token>` and a JSON body `{"kwargs": {...}}`; the
answer is `{"result": ...}` or `{"error": {"code", "message", "fields", "status"}}`. Datetimes
travel as `{"$datetime": iso}` and dates as `{"$date": iso}`. Admin calls are not API calls: they
are neither counted nor limited and never hit injected faults. `SandboxAdminClient` (in
`admin_client.py`) speaks this protocol with the same method names and signatures as the org.
"""

from __future__ import annotations

import hmac
import json
import logging
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from .errors import SandboxError
from .httpio import Request, Response, json_response

if TYPE_CHECKING:
    from .org import SandboxOrg

logger = logging.getLogger(__name__)

ADMIN_METHODS = frozenset({
    "create", "update", "delete", "undelete", "get", "seed", "convert_lead", "merge", "touch_system",
    "late_commit", "now", "set_clock", "advance_clock", "use_real_clock", "counters", "reset_counters",
    "set_api_limit", "set_api_usage", "api_usage", "expire_tokens", "add_field", "add_validation_rule",
    "lock_record", "reset", "count", "inject_fault", "clear_faults", "query", "credentials", "issue_token",
    "generate_demo_org", "hide_field", "show_field", "hidden_fields", "answer_short_ids",
})


def encode(value: Any) -> Any:
    """Python value -> JSON-able value (datetimes and dates tagged)."""
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """Inverse of `encode`."""
    if isinstance(value, dict):
        if set(value) == {"$datetime"}:
            return datetime.fromisoformat(value["$datetime"])
        if set(value) == {"$date"}:
            return date.fromisoformat(value["$date"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def _error(status: int, code: str, message: str) -> Response:
    return json_response(status, {"error": {"code": code, "message": message, "fields": [], "status": status}})


def handle(org: SandboxOrg, request: Request, method: str) -> Response:
    """Run one admin call."""
    auth = request.header("authorization") or ""
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if not hmac.compare_digest(token.encode(), org.admin_token.encode()):
        return _error(401, "INVALID_ADMIN_TOKEN", "The admin token is missing or wrong.")
    if request.method != "POST":
        return _error(405, "METHOD_NOT_ALLOWED", "Admin calls use POST.")
    if method not in ADMIN_METHODS:
        return _error(404, "NOT_FOUND", f"Unknown admin method {method!r}.")
    try:
        body = json.loads(request.body or b"{}")
        kwargs = decode(body.get("kwargs") or {})
        if not isinstance(kwargs, dict):
            raise ValueError("kwargs must be an object")
    except ValueError as exc:
        return _error(400, "JSON_PARSER_ERROR", str(exc))
    try:
        if method == "generate_demo_org":
            from .generator import generate_demo_org
            result = generate_demo_org(org, **kwargs)
        else:
            result = getattr(org, method)(**kwargs)
    except SandboxError as exc:
        return json_response(exc.status if exc.status >= 400 else 400, {"error": exc.to_dict()})
    except (TypeError, ValueError) as exc:
        return _error(400, "INVALID_ARGUMENT", str(exc))
    logger.debug("admin %s", method)
    return json_response(200, {"result": encode(result)})
