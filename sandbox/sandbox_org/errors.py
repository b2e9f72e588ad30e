"""Salesforce-shaped errors raised by the sandbox org.

Every failure the org can report carries Salesforce's `errorCode` (REST) / `statusCode`
(sObject Collections, Bulk results), its message text, the fields involved and the HTTP
status the REST API answers with. The HTTP layer turns one into the JSON array Salesforce
sends (`[{"message", "errorCode", "fields"}]`); the Python API raises it as is.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


class SandboxError(Exception):
    """A Salesforce error: `code` (e.g. REQUIRED_FIELD_MISSING), `message`, `fields`, `status`."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = list(fields or [])
        self.status = status

    def rest_body(self) -> list[dict[str, Any]]:
        """The body the REST API answers with: a JSON array of one error."""
        body: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields:
            body["fields"] = self.fields
        return [body]

    def save_error(self) -> dict[str, Any]:
        """The per-record error of a SaveResult (sObject Collections): `statusCode`, not `errorCode`."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}

    def bulk_error(self) -> str:
        """The `sf__Error` column of Bulk API 2.0 failed results."""
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (admin API transport)."""
        return {"code": self.code, "message": self.message, "fields": self.fields, "status": self.status}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxError:
        """Rebuild an error sent by the admin API."""
        return cls(data["code"], data["message"], data.get("fields") or [], int(data.get("status", 400)))


def not_found() -> SandboxError:
    """404 NOT_FOUND, Salesforce's answer for an unknown resource or record."""
    return SandboxError("NOT_FOUND", "The requested resource does not exist", status=404)


def entity_is_deleted(status: int = 400) -> SandboxError:
    """ENTITY_IS_DELETED: a write to a record in the recycle bin."""
    return SandboxError("ENTITY_IS_DELETED", "entity is deleted", status=status)


def invalid_field_on_write(field: str, sobject: str) -> SandboxError:
    """INVALID_FIELD for an unknown field in a write body."""
    return SandboxError("INVALID_FIELD", f"No such column '{field}' on sobject of type {sobject}", status=400)


def malformed_id(label: str, value: str, field: str | None = None) -> SandboxError:
    """MALFORMED_ID: a value that is not a Salesforce id."""
    return SandboxError("MALFORMED_ID", f"{label}: id value of incorrect type: {value}",
                        [field] if field else [], status=400)
