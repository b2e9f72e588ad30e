"""Request routing: login endpoints, the versioned REST API and the admin API.

For `/services/data/vXX.X/...` every request must carry a valid `Authorization: Bearer` token
(401 INVALID_SESSION_ID otherwise), is refused with 403 REQUEST_LIMIT_EXCEEDED once the daily
allocation is used up, counts one API call of its kind, and is answered with `Sforce-Limit-Info`.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

from . import admin, bulk, composite, rest
from .errors import SandboxError, not_found
from .faults import Fault
from .httpio import XML_TYPE, Request, Response, error_response, json_response
from .org import SandboxOrg

logger = logging.getLogger(__name__)

ADMIN_PREFIX = "/sandbox/admin/"
_API_RE = re.compile(r"^/services/data/v(\d+\.\d)(/.*)?$")
_SOAP_RE = re.compile(r"^/services/Soap/u/(\d+\.\d)/?$")
Handler = Callable[[SandboxOrg, Request, "Context"], Response]
SESSION_EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


@dataclass
class Context:
    """What a handler needs besides the org and the request."""

    version: str
    segments: list[str]
    instance_url: str


def take_fault(org: SandboxOrg, request: Request) -> Fault | None:
    with org.lock:
        return org.faults.take(request.method, request.path)


def dispatch(org: SandboxOrg, request: Request, instance_url: str) -> Response:
    """Answer one request (never raises)."""
    try:
        path = request.path
        if path.startswith(ADMIN_PREFIX):
            return admin.handle(org, request, path[len(ADMIN_PREFIX):])
        if path.rstrip("/") == "/services/oauth2/token":
            return _oauth(org, request, instance_url)
        soap = _SOAP_RE.match(path)
        if soap:
            if request.method != "POST":
                raise not_found()
            with org.lock:
                status, xml = org.auth.soap_login(request.body, soap.group(1), instance_url)
            return Response(status, xml.encode("utf-8"), XML_TYPE)
        if path.rstrip("/") == "/services/data":
            return json_response(200, [{"label": f"Release {v}", "url": f"/services/data/v{v}", "version": v}
                                       for v in ("58.0", "59.0", "60.0", "61.0", "62.0")])
        api = _API_RE.match(path)
        if api:
            return _api(org, request, api.group(1), api.group(2) or "/", instance_url)
        raise not_found()
    except SandboxError as exc:
        return error_response(exc)
    except Exception:
        logger.exception("unexpected error answering %s %s", request.method, request.path)
        return json_response(500, [{"message": "An unexpected error occurred. Please include this ErrorId if you "
                                               "contact support: sandbox", "errorCode": "UNKNOWN_EXCEPTION"}])


def _oauth(org: SandboxOrg, request: Request, instance_url: str) -> Response:
    if request.method != "POST":
        return json_response(400, {"error": "invalid_request", "error_description": "must use HTTP POST"})
    form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True).items()}
    basic = None
    auth = request.header("authorization") or ""
    if auth.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
            basic = (unquote(user), unquote(password))
        except (ValueError, UnicodeDecodeError):
            basic = None
    with org.lock:
        status, body = org.auth.oauth_token(form, basic, instance_url)
    return json_response(status, body)


def _api(org: SandboxOrg, request: Request, version: str, rest_path: str, instance_url: str) -> Response:
    auth = request.header("authorization") or ""
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else (auth[6:].strip() if auth[:6].lower() == "oauth "
                                                                     else None)
    segments = [unquote(s) for s in rest_path.split("/") if s]
    with org.lock:
        if not org.auth.is_valid(token):
            return json_response(401, SESSION_EXPIRED, {"WWW-Authenticate": "Token"})
        if org.usage.exhausted():
            return json_response(403, [{"message": "TotalRequests Limit exceeded.",
                                        "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
                                 {"Sforce-Limit-Info": org.usage.header()})
        kind, handler = resolve(request.method, segments)
        org.usage.charge(kind)
        limit_info = org.usage.header()
    try:
        if handler is None:
            raise not_found()
        response = handler(org, request, Context(version, segments, instance_url))
    except SandboxError as exc:
        response = error_response(exc)
    response.headers["Sforce-Limit-Info"] = limit_info
    return response


def _method_not_allowed(method: str, allowed: str) -> Handler:
    def handler(org: SandboxOrg, request: Request, ctx: Context) -> Response:
        raise SandboxError("METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {allowed}",
                           status=405)
    return handler


def resolve(method: str, seg: list[str]) -> tuple[str, Handler | None]:
    """(counter kind, handler) for an API path below `/services/data/vXX.X/`."""
    n = len(seg)
    head = seg[0] if seg else ""
    if n == 0:
        return "other", rest.resources if method == "GET" else None
    if head in ("query", "queryAll"):
        if method != "GET":
            return "other", _method_not_allowed(method, "GET,HEAD")
        if n == 1:
            return ("query" if head == "query" else "query_all"), rest.query
        return "query_more", rest.query_more
    if head == "limits" and n == 1:
        return "limits", rest.limits if method == "GET" else _method_not_allowed(method, "GET,HEAD")
    if head == "sobjects":
        return rest.resolve_sobjects(method, seg)
    if head == "composite" and n >= 2 and seg[1] == "sobjects":
        return composite.resolve(method, seg)
    if head == "jobs" and n >= 2 and seg[1] in ("query", "ingest"):
        return bulk.resolve(method, seg)
    return "other", None
