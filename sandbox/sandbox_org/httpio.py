"""Request and response values passed between the HTTPS server and the API handlers."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from .errors import SandboxError

logger = logging.getLogger(__name__)

JSON_TYPE = "application/json;charset=UTF-8"
CSV_TYPE = "text/csv"
XML_TYPE = "text/xml;charset=UTF-8"


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes = b""
    params: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.params = parse_qs(self.query_string, keep_blank_values=True)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.params.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """The JSON body (400 JSON_PARSER_ERROR when it is not JSON)."""
        try:
            return json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise SandboxError("JSON_PARSER_ERROR", f"Unexpected character: {exc}") from None


@dataclass
class Response:
    """Status, body and headers; `close` asks the server to close the connection afterwards."""

    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError:   # a lone surrogate in seeded data: JSON escapes it, as Salesforce's writer does
        body = json.dumps(payload, separators=(",", ":")).encode("ascii")
    return Response(status, body, JSON_TYPE, dict(headers or {}))


def error_response(error: SandboxError) -> Response:
    return json_response(error.status, error.rest_body())


def no_content() -> Response:
    return Response(204, b"", None)
