"""`SandboxAdminClient`: drive a sandbox org in another process through its admin HTTP API.

It offers the `SandboxOrg` operator methods with the same names, arguments and return types, so a
test written against `sandbox.org` runs unchanged against a CLI-started sandbox.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import requests

from .admin import decode, encode
from .errors import SandboxError

logger = logging.getLogger(__name__)


class SandboxAdminClient:
    """Admin client for `https://host:port` with the admin token and the sandbox CA file."""

    def __init__(self, instance_url: str, admin_token: str, ca_path: str, timeout: float = 60.0) -> None:
        self.instance_url = instance_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.verify = str(ca_path)
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"Bearer {admin_token}"

    def _call(self, _operation: str, /, **kwargs: Any) -> Any:
        """POST one admin call and decode its result (SandboxError on failure)."""
        response = self.session.post(f"{self.instance_url}/sandbox/admin/{_operation}",
                                     json={"kwargs": encode(kwargs)}, timeout=self.timeout)
        try:
            payload = response.json()
        except ValueError:
            raise SandboxError("UNKNOWN_EXCEPTION", f"admin call {_operation} answered {response.status_code}: "
                               f"{response.text[:200]}", status=response.status_code) from None
        if response.status_code != 200:
            raise SandboxError.from_dict(payload.get("error") or {"code": "UNKNOWN_EXCEPTION",
                                                                  "message": response.text})
        return decode(payload.get("result"))

    def close(self) -> None:
        self.session.close()

    # records
    def create(self, sobject: str, fields: dict[str, Any]) -> str:
        return self._call("create", sobject=sobject, fields=fields)

    def update(self, sobject: str, id: str, fields: dict[str, Any]) -> None:
        self._call("update", sobject=sobject, id=id, fields=fields)

    def delete(self, sobject: str, id: str) -> None:
        self._call("delete", sobject=sobject, id=id)

    def undelete(self, sobject: str, id: str) -> None:
        self._call("undelete", sobject=sobject, id=id)

    def get(self, sobject: str, id: str) -> dict[str, Any] | None:
        return self._call("get", sobject=sobject, id=id)

    def seed(self, sobject: str, records: list[dict[str, Any]]) -> list[str]:
        return self._call("seed", sobject=sobject, records=records)

    def convert_lead(self, lead_id: str, contact_id: str | None = None, account_id: str | None = None) -> dict[str, str]:
        return self._call("convert_lead", lead_id=lead_id, contact_id=contact_id, account_id=account_id)

    def merge(self, sobject: str, master_id: str, loser_ids: list[str]) -> None:
        self._call("merge", sobject=sobject, master_id=master_id, loser_ids=list(loser_ids))

    def touch_system(self, sobject: str, id: str) -> None:
        self._call("touch_system", sobject=sobject, id=id)

    def late_commit(self, sobject: str, id: str | None = None, fields: dict[str, Any] | None = None,
                    seconds_ago: float = 60) -> str:
        return self._call("late_commit", sobject=sobject, id=id, fields=fields, seconds_ago=seconds_ago)

    def count(self, sobject: str, include_deleted: bool = False) -> int:
        return self._call("count", sobject=sobject, include_deleted=include_deleted)

    def query(self, soql: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        return self._call("query", soql=soql, include_deleted=include_deleted)

    # clock
    def now(self) -> datetime:
        return self._call("now")

    def set_clock(self, dt: datetime | str) -> None:
        self._call("set_clock", dt=dt)

    def advance_clock(self, seconds: float) -> None:
        self._call("advance_clock", seconds=seconds)

    def use_real_clock(self) -> None:
        self._call("use_real_clock")

    # usage, auth
    def counters(self) -> dict[str, int]:
        return self._call("counters")

    def reset_counters(self) -> None:
        self._call("reset_counters")

    def set_api_limit(self, max: int) -> None:
        self._call("set_api_limit", max=max)

    def set_api_usage(self, used: int) -> None:
        self._call("set_api_usage", used=used)

    def api_usage(self) -> tuple[int, int]:
        used, maximum = self._call("api_usage")
        return used, maximum

    def expire_tokens(self) -> None:
        self._call("expire_tokens")

    def issue_token(self) -> str:
        return self._call("issue_token")

    def credentials(self) -> dict[str, str]:
        return self._call("credentials")

    # schema, rules, faults
    def add_field(self, sobject: str, name: str, type: str = "string", external_id: bool = False,
                  unique: bool = False, length: int | None = None) -> None:
        self._call("add_field", sobject=sobject, name=name, type=type, external_id=external_id, unique=unique,
                   length=length)

    def add_validation_rule(self, sobject: str, field: str, pattern: str, message: str) -> None:
        self._call("add_validation_rule", sobject=sobject, field=field, pattern=pattern, message=message)

    def hide_field(self, sobject: str, field: str) -> None:
        self._call("hide_field", sobject=sobject, field=field)

    def show_field(self, sobject: str, field: str) -> None:
        self._call("show_field", sobject=sobject, field=field)

    def hidden_fields(self) -> dict[str, list[str]]:
        return self._call("hidden_fields")

    def lock_record(self, id: str, times: int = 1) -> None:
        self._call("lock_record", id=id, times=times)

    def inject_fault(self, kind: str, path: str = ".*", method: str | None = None, times: int | None = 1,
                     **params: Any) -> None:
        self._call("inject_fault", kind=kind, path=path, method=method, times=times, **params)

    def clear_faults(self) -> None:
        self._call("clear_faults")

    def answer_short_ids(self, enabled: bool = True) -> None:
        self._call("answer_short_ids", enabled=enabled)

    def reset(self) -> None:
        self._call("reset")

    def generate_demo_org(self, accounts: int = 50, contacts: int = 150, leads: int = 150, seed: int = 1,
                          history_days: int = 30) -> dict[str, int]:
        return self._call("generate_demo_org", accounts=accounts, contacts=contacts, leads=leads, seed=seed,
                          history_days=history_days)
