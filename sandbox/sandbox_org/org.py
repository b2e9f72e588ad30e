"""`SandboxOrg`: the in-memory Salesforce org behind the HTTPS server, with its operator API.

All methods are thread-safe (one re-entrant lock) and take Salesforce object and field names
(any case), 15- or 18-character ids and tz-aware UTC datetimes. The same methods are exposed over
the admin HTTP API (`admin.py`), so in-process and out-of-process tests drive the org identically.
Writes made through these methods are attributed to a second user ("sales user"), API writes to
the integration user, so `LastModifiedById` tells them apart.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import dml, lifecycle
from .auth import AuthState
from .engine import Result, execute
from .errors import SandboxError
from .faults import FaultRegistry
from .ids import InvalidSalesforceId, to_18
from .schema import ObjectSchema, custom_field, standard_schemas
from .soql import parse
from .store import Clock, IdGen, Table, TableView, make_id
from .usage import DEFAULT_DAILY_LIMIT, ApiUsage
from .values import datetime_to_ms, ms_to_datetime, parse_datetime_text, to_python

logger = logging.getLogger(__name__)

DEMO_FIELD = "Conversion_Id__c"
# Fields field-level security cannot take away from a user (besides required ones).
UNHIDEABLE = frozenset({"Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById",
                        "SystemModstamp"})
MAX_CURSORS = 200


@dataclass
class ValidationRule:
    """A write whose `field` matches `regex` fails with FIELD_CUSTOM_VALIDATION_EXCEPTION."""

    field: str
    pos: int
    regex: re.Pattern[str]
    message: str


class SandboxOrg:
    """A thread-safe Salesforce org: records, clock, API allocation, faults and tokens."""

    def __init__(self, *, daily_api_limit: int = DEFAULT_DAILY_LIMIT, credentials: dict[str, str] | None = None,
                 demo_fields: bool = True, pod: str = "8d", admin_token: str | None = None) -> None:
        self.lock = threading.RLock()
        self.pod = pod
        self.org_id = make_id("00D", pod, 1_000_001)
        self.integration_user_id = make_id("005", pod, 1_000_001)
        self.sales_user_id = make_id("005", pod, 1_000_002)
        self.user_ids = {self.integration_user_id, self.sales_user_id}
        self.auth = AuthState(self.org_id, self.integration_user_id, credentials)
        self.admin_token = admin_token or secrets.token_urlsafe(32)
        self.instance_url = "https://127.0.0.1"
        self.demo_fields = demo_fields
        self.default_api_limit = daily_api_limit
        self.usage = ApiUsage(daily_api_limit)
        self.faults = FaultRegistry()
        self._init_data()

    def _init_data(self) -> None:
        self.tables: dict[str, Table] = {name: Table(s) for name, s in standard_schemas().items()}
        self.clock = Clock()
        self.idgen = IdGen(self.pod)
        self.validation_rules: dict[str, list[ValidationRule]] = {}
        self.locked_rows: dict[str, int] = {}
        self.cursors: OrderedDict[str, Any] = OrderedDict()
        self.jobs: dict[str, Any] = {}
        # Field-level security: fields the integration user cannot see, by object (canonical names).
        self.hidden: dict[str, set[str]] = {}
        self.short_ids = False
        if self.demo_fields:
            for sobject in ("Lead", "Contact"):
                self._add_field(sobject, DEMO_FIELD, "string", True, True, None)

    # ------------------------------------------------------------------ helpers
    def table(self, sobject: str) -> Table:
        """The table of an sObject name in any case (SandboxError NOT_FOUND for others)."""
        table = self.tables.get(sobject)
        if table is None:
            for name, candidate in self.tables.items():
                if name.lower() == str(sobject).lower():
                    return candidate
            raise SandboxError("NOT_FOUND", "The requested resource does not exist", status=404)
        return table

    def record_dict(self, table: Table, row: list) -> dict[str, Any]:
        """A row as {API name: Python value}."""
        return {f.name: to_python(row[f.pos] if f.pos < len(row) else None, f.type) for f in table.schema.fields}

    def run_query(self, soql: str, include_deleted: bool = False, as_integration_user: bool = False) -> Result:
        """Parse and execute SOQL under the lock (a snapshot result); as the integration user
        (the API), fields hidden from it do not exist."""
        parsed = parse(soql)
        with self.lock:
            tables = self.api_tables() if as_integration_user else self.tables
            return execute(parsed, tables, include_deleted, self.clock.now_ms())

    def api_schema(self, sobject: str) -> ObjectSchema:
        """An object's schema as the integration user sees it (hidden fields left out)."""
        schema = self.table(sobject).schema
        return schema.without(self.hidden.get(schema.name, set()))

    def api_tables(self) -> dict[str, Table | TableView]:
        """The tables as the integration user sees them (for SOQL over the API)."""
        return {name: TableView(table, table.schema.without(self.hidden[name])) if self.hidden.get(name) else table
                for name, table in self.tables.items()}

    def store_cursor(self, cursor: Any) -> str:
        """Keep a query cursor; returns its `0r8...` locator."""
        with self.lock:
            locator = self.idgen.next("0r8")
            self.cursors[locator] = cursor
            while len(self.cursors) > MAX_CURSORS:
                self.cursors.popitem(last=False)
            return locator

    def get_cursor(self, locator: str) -> Any | None:
        with self.lock:
            cursor = self.cursors.get(locator)
            if cursor is not None:
                self.cursors.move_to_end(locator)
            return cursor

    # ------------------------------------------------------------------ records
    def create(self, sobject: str, fields: dict[str, Any]) -> str:
        """Create a record as a Salesforce user would; returns its 18-character id."""
        with self.lock:
            table = self.table(sobject)
            return dml.insert_record(self, table.schema.name, fields, self.clock.stamp(), self.sales_user_id)

    def update(self, sobject: str, id: str, fields: dict[str, Any]) -> None:
        """Update a record (bumps LastModifiedDate and SystemModstamp)."""
        with self.lock:
            table = self.table(sobject)
            dml.update_record(self, table.schema.name, id, fields, self.clock.stamp(), self.sales_user_id,
                              api=False)

    def delete(self, sobject: str, id: str) -> None:
        """Soft-delete a record (IsDeleted; visible to queryAll)."""
        with self.lock:
            table = self.table(sobject)
            dml.delete_record(self, table.schema.name, id, self.clock.stamp(), self.sales_user_id, api=False)

    def undelete(self, sobject: str, id: str) -> None:
        """Restore a record from the recycle bin."""
        with self.lock:
            lifecycle.undelete(self, self.table(sobject), id)

    def get(self, sobject: str, id: str) -> dict[str, Any] | None:
        """Every field of a record (deleted ones included), or None."""
        with self.lock:
            table = self.table(sobject)
            try:
                row = table.get(to_18(id))
            except InvalidSalesforceId:
                return None
            return None if row is None else self.record_dict(table, row)

    def seed(self, sobject: str, records: list[dict[str, Any]]) -> list[str]:
        """Fast bulk insert (no validation rules or uniqueness checks); records may carry history:
        CreatedDate/LastModifiedDate/SystemModstamp, IsDeleted, MasterRecordId, Converted* fields."""
        with self.lock:
            return lifecycle.seed(self, self.table(sobject), records)

    def convert_lead(self, lead_id: str, contact_id: str | None = None,
                     account_id: str | None = None) -> dict[str, str]:
        """Convert a Lead into a new or existing Contact/Account; returns account_id and contact_id."""
        with self.lock:
            return lifecycle.convert_lead(self, lead_id, contact_id, account_id, self.sales_user_id)

    def merge(self, sobject: str, master_id: str, loser_ids: list[str]) -> None:
        """Merge up to two records into a master: losers deleted with MasterRecordId set."""
        with self.lock:
            lifecycle.merge(self, self.table(sobject), master_id, list(loser_ids), self.sales_user_id)

    def touch_system(self, sobject: str, id: str) -> None:
        """A system-only change: bumps SystemModstamp, not LastModifiedDate."""
        with self.lock:
            lifecycle.touch_system(self, self.table(sobject), id)

    def late_commit(self, sobject: str, id: str | None = None, fields: dict[str, Any] | None = None,
                    seconds_ago: float = 60) -> str:
        """A write (a create when id is None) stamped `seconds_ago` in the past, like a long
        transaction committing late; returns the record id."""
        with self.lock:
            return lifecycle.late_commit(self, self.table(sobject), id, fields or {}, seconds_ago)

    def count(self, sobject: str, include_deleted: bool = False) -> int:
        """Number of records (deleted ones only when asked)."""
        with self.lock:
            return self.table(sobject).count(include_deleted)

    def query(self, soql: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Run SOQL in-process (not counted as an API call); records as {field: Python value}."""
        result = self.run_query(soql, include_deleted)
        if result.count_only or result.aggregate is not None:
            return [result.aggregate or {"count": result.total}]
        return [{f.name: to_python(row[f.pos], f.type) for f in result.fields} for row in result.all_rows()]

    # ------------------------------------------------------------------ clock
    def now(self) -> datetime:
        """The org's current time (tz-aware UTC, millisecond precision)."""
        with self.lock:
            return ms_to_datetime(self.clock.now_ms())

    def set_clock(self, dt: datetime | str) -> None:
        """Set the org time; it keeps running from there."""
        ms = parse_datetime_text(dt) if isinstance(dt, str) else datetime_to_ms(dt)
        with self.lock:
            self.clock.set_ms(ms)

    def advance_clock(self, seconds: float) -> None:
        with self.lock:
            self.clock.advance(seconds)

    def use_real_clock(self) -> None:
        with self.lock:
            self.clock.use_real()

    # ------------------------------------------------------------------ usage and limits
    def counters(self) -> dict[str, int]:
        """API calls by kind since the last reset, plus `total`."""
        with self.lock:
            return self.usage.counters()

    def reset_counters(self) -> None:
        with self.lock:
            self.usage.reset_counters()

    def set_api_limit(self, max: int) -> None:
        """Set the daily API allocation (`DailyApiRequests.Max`)."""
        with self.lock:
            self.usage.max = int(max)

    def set_api_usage(self, used: int) -> None:
        """Set how many API requests count as used today."""
        with self.lock:
            self.usage.used = int(used)

    def api_usage(self) -> tuple[int, int]:
        """(used, max) of the daily API allocation."""
        with self.lock:
            return self.usage.used, self.usage.max

    # ------------------------------------------------------------------ auth
    def expire_tokens(self) -> None:
        """Invalidate every access token (next API call: 401 INVALID_SESSION_ID)."""
        with self.lock:
            self.auth.expire_all()

    def issue_token(self) -> str:
        """A fresh valid access token for the integration user."""
        with self.lock:
            return self.auth.issue_token()

    def credentials(self) -> dict[str, str]:
        """client_id, client_secret, username, password, security_token."""
        with self.lock:
            return self.auth.credentials()

    # ------------------------------------------------------------------ schema, rules, faults
    def _add_field(self, sobject: str, name: str, type: str, external_id: bool, unique: bool,
                   length: int | None) -> None:
        table = self.table(sobject)
        fdef = custom_field(name, type, external_id=external_id, unique=unique, length=length)
        table.schema.add(fdef)
        table.add_column(fdef)

    def add_field(self, sobject: str, name: str, type: str = "string", external_id: bool = False,
                  unique: bool = False, length: int | None = None) -> None:
        """Add a custom `__c` field (string, email, phone, url, picklist, textarea, boolean, int,
        double, currency, percent, date, datetime)."""
        with self.lock:
            existing = self.table(sobject).schema.get(name)
            if existing is not None:
                raise SandboxError("DUPLICATE_DEVELOPER_NAME", f"There is already a field named {existing.name} "
                                   f"on {self.table(sobject).schema.name}.")
            try:
                self._add_field(sobject, name, type, external_id, unique, length)
            except ValueError as exc:
                raise SandboxError("INVALID_FIELD", str(exc)) from None

    def add_validation_rule(self, sobject: str, field: str, pattern: str, message: str) -> None:
        """Writes whose `field` value matches `pattern` fail (FIELD_CUSTOM_VALIDATION_EXCEPTION)."""
        with self.lock:
            table = self.table(sobject)
            fdef = table.schema.get(field)
            if fdef is None:
                raise SandboxError("INVALID_FIELD", f"No such column '{field}' on sobject of type {table.schema.name}")
            rules = self.validation_rules.setdefault(table.schema.name, [])
            rules.append(ValidationRule(fdef.name, fdef.pos, re.compile(pattern), message))

    def hide_field(self, sobject: str, field: str) -> None:
        """Field-level security: hide a field from the integration user. Its describe leaves the
        field out, SOQL naming it answers INVALID_FIELD ("No such column ..."), and API writes
        naming it fail the same way; Salesforce users (these operator methods) still see it."""
        with self.lock:
            table = self.table(sobject)
            fdef = table.schema.get(field)
            if fdef is None:
                raise SandboxError("INVALID_FIELD", f"No such column '{field}' on sobject of type {table.schema.name}")
            if fdef.required or fdef.name in UNHIDEABLE:
                raise SandboxError("INVALID_OPERATION", f"Field-level security cannot hide {table.schema.name}."
                                   f"{fdef.name}: it is required or a system field.")
            self.hidden.setdefault(table.schema.name, set()).add(fdef.name)

    def show_field(self, sobject: str, field: str) -> None:
        """Undo `hide_field`: the integration user sees the field again."""
        with self.lock:
            table = self.table(sobject)
            fdef = table.schema.get(field)
            if fdef is not None:
                self.hidden.get(table.schema.name, set()).discard(fdef.name)

    def hidden_fields(self) -> dict[str, list[str]]:
        """Object -> the fields hidden from the integration user."""
        with self.lock:
            return {name: sorted(fields) for name, fields in self.hidden.items() if fields}

    def lock_record(self, id: str, times: int = 1) -> None:
        """The next `times` API writes to this record fail with UNABLE_TO_LOCK_ROW."""
        with self.lock:
            self.locked_rows[to_18(id)] = int(times)

    def inject_fault(self, kind: str, path: str = ".*", method: str | None = None, times: int | None = 1,
                     **params: Any) -> None:
        """Arm a fault for matching requests (see `faults.py` for the kinds)."""
        with self.lock:
            try:
                self.faults.add(kind, path, method, times, **params)
            except (ValueError, re.error) as exc:
                raise SandboxError("INVALID_ARGUMENT", str(exc)) from None

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def answer_short_ids(self, enabled: bool = True) -> None:
        """Queries (REST and Bulk 2.0) answer ids and lookups in their 15-character form, as
        reports, formula fields and older integrations hand them out (until `reset`)."""
        with self.lock:
            self.short_ids = bool(enabled)

    def reset(self) -> None:
        """Empty org with the default fields: no faults, rules, locks or cursors; counters and usage
        at 0; the default API limit; the real clock; the start-up token valid again."""
        with self.lock:
            self._init_data()
            self.faults.clear()
            self.usage = ApiUsage(self.default_api_limit)
            self.auth.revalidate_primary()
            logger.info("org reset")
