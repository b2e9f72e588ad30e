"""Record storage: one `Table` per sObject, the org clock and the id generator.

Rows are Python lists laid out by the object's schema and are never mutated once stored (a write
stores a new list), so a query cursor that holds references to rows is a true snapshot. Each table
keeps two `BlockList`s sorted by (SystemModstamp, Id) -- all rows and the not-deleted rows -- whose
entries are `(systemmodstamp_ms, id, row)` tuples and whose windows are copy-on-write snapshots, and hash indexes (lower-cased values) on email,
external-id/unique and lookup fields. Callers hold the org lock.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Iterable
from typing import Any

from .blocklist import BlockList
from .ids import checksum, to_18
from .schema import FieldDef, ObjectSchema
from .values import now_ms

logger = logging.getLogger(__name__)

Row = list
Entry = tuple  # (systemmodstamp_ms, id18, row)
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_MAX_STR = "\U0010ffff"


class Clock:
    """The org clock: real time plus an offset; write stamps never go backwards.

    Like Salesforce, many writes in the same millisecond share a stamp (ties are what a sync's
    window bounds must handle). An earlier version made every stamp strictly greater than the
    last, which under a burst of writes ran the clock seconds into the future."""

    def __init__(self) -> None:
        self.offset_ms = 0
        self.last_ms = 0

    def now_ms(self) -> int:
        """Current org time in epoch milliseconds."""
        return now_ms() + self.offset_ms

    def stamp(self) -> int:
        """A write timestamp: now, never before the previous stamp (equal is fine)."""
        t = max(self.now_ms(), self.last_ms)
        self.last_ms = t
        return t

    def set_ms(self, ms: int) -> None:
        """Make `now` equal `ms` (time keeps flowing from there)."""
        self.offset_ms = ms - now_ms()
        self.last_ms = ms

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, for negative seconds)."""
        self.offset_ms += round(seconds * 1000)

    def use_real(self) -> None:
        """Back to the real wall clock."""
        self.offset_ms = 0
        self.last_ms = now_ms() - 1


_PAIRS = [a + b for a in _BASE62 for b in _BASE62]
_ID_RE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def base62(number: int, width: int) -> str:
    """`number` in base 62 (0-9A-Za-z, which sorts like the numbers), left-padded to `width`."""
    digits = []
    while number:
        number, rem = divmod(number, 3844)
        digits.append(_PAIRS[rem])
    return "".join(reversed(digits)).lstrip("0").rjust(width, "0")


def normalize_id(value: str) -> str:
    """`ids.to_18` for the hot paths: a well-formed id gets its checksum without the slow checks."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return to_18(value)  # raises InvalidSalesforceId with the usual message (or strips spaces)
    id15 = value[:15]
    return id15 + checksum(id15)


def make_id(prefix: str, pod: str, number: int) -> str:
    """An 18-character id: key prefix, 2-char pod, reserved '0', 9-char number, checksum."""
    id15 = prefix + pod + "0" + base62(number, 9)
    return id15 + checksum(id15)


class IdGen:
    """Deterministic per-prefix id sequence (a fresh org gives the same ids for the same writes)."""

    START = 2_000_000_000  # base62 '002BNXwWo'-ish: looks like a real org's record numbers

    def __init__(self, pod: str = "8d") -> None:
        self.pod = pod
        self.counters: dict[str, int] = {}

    def next(self, prefix: str) -> str:
        n = self.counters.get(prefix)
        if n is None:  # each object starts elsewhere, so ids of different objects never share a number
            n = self.START + int(prefix, 36) * 7919 % 50_000_000
        n += 1
        self.counters[prefix] = n
        return make_id(prefix, self.pod, n)


def index_key(value: Any) -> Any:
    """Hash-index / comparison key: strings compare case-insensitively."""
    if isinstance(value, str):
        low = value.lower()
        return value if low == value else low
    return value


class Table:
    """The rows of one sObject type with their sorted and hash indexes."""

    def __init__(self, schema: ObjectSchema) -> None:
        self.schema = schema
        self.rows: dict[str, Row] = {}
        self.ids: list[str] = []
        self.all = BlockList()
        self.live = BlockList()
        self.entries: dict[str, Entry] = {}
        self.hidx: dict[int, dict[Any, Any]] = {f.pos: {} for f in schema.indexed}
        self.sms_pos = schema.pos("SystemModstamp")
        self.del_pos = schema.pos("IsDeleted")

    # ---------------------------------------------------------------- hash indexes
    def _hadd(self, pos: int, value: Any, rid: str) -> None:
        if value is None:
            return
        bucket = self.hidx[pos]
        key = index_key(value)
        cur = bucket.get(key)
        if cur is None:
            bucket[key] = rid
        elif isinstance(cur, str):
            bucket[key] = {cur, rid}
        else:
            cur.add(rid)

    def _hremove(self, pos: int, value: Any, rid: str) -> None:
        if value is None:
            return
        bucket = self.hidx[pos]
        key = index_key(value)
        cur = bucket.get(key)
        if cur == rid:
            del bucket[key]
        elif isinstance(cur, set):
            cur.discard(rid)
            if len(cur) == 1:
                bucket[key] = next(iter(cur))

    def lookup(self, pos: int, value: Any) -> list[str]:
        """Ids whose indexed field `pos` equals `value` (case-insensitively), deleted included."""
        cur = self.hidx[pos].get(index_key(value))
        if cur is None:
            return []
        return [cur] if isinstance(cur, str) else sorted(cur)

    # ---------------------------------------------------------------- sorted indexes
    def _unlink(self, rid: str, row: Row) -> None:
        entry = self.entries.pop(rid)
        self.all.remove(entry)
        if not row[self.del_pos]:
            self.live.remove(entry)
        for pos in self.hidx:
            self._hremove(pos, row[pos], rid)

    def _link(self, rid: str, row: Row) -> None:
        entry = (row[self.sms_pos], rid, row)
        self.entries[rid] = entry
        self.all.add(entry)
        if not row[self.del_pos]:
            self.live.add(entry)
        for pos in self.hidx:
            self._hadd(pos, row[pos], rid)

    # ---------------------------------------------------------------- writes
    def insert(self, row: Row) -> None:
        """Store a new row (row[0] is its id)."""
        rid = row[0]
        self.rows[rid] = row
        self.ids.append(rid)
        self._link(rid, row)

    def replace(self, rid: str, row: Row) -> Row:
        """Store a new version of an existing row; returns the previous version."""
        old = self.rows[rid]
        self._unlink(rid, old)
        self.rows[rid] = row
        self._link(rid, row)
        return old

    def remove(self, rid: str) -> None:
        """Forget a row completely (rollback of an insert)."""
        row = self.rows.pop(rid)
        self._unlink(rid, row)
        if self.ids and self.ids[-1] == rid:
            self.ids.pop()
        else:
            self.ids.remove(rid)

    def bulk_insert(self, rows: Iterable[Row]) -> list[str]:
        """Fast insert of many new rows: indexes are re-sorted once."""
        new_ids: list[str] = []
        new_entries: list[Entry] = []
        sms, dpos = self.sms_pos, self.del_pos
        for row in rows:
            rid = row[0]
            self.rows[rid] = row
            new_ids.append(rid)
            entry = (row[sms], rid, row)
            self.entries[rid] = entry
            new_entries.append(entry)
            for pos in self.hidx:
                if row[pos] is not None:
                    self._hadd(pos, row[pos], rid)
        self.ids.extend(new_ids)
        self.all.update(new_entries)
        self.live.update([e for e in new_entries if not e[2][dpos]])
        return new_ids

    def add_column(self, fdef: FieldDef) -> None:
        """A new field: every stored row grows by one null (rows are extended in place)."""
        for row in self.rows.values():
            row.append(fdef.default)
        if fdef in self.schema.indexed:
            self.hidx[fdef.pos] = {}

    # ---------------------------------------------------------------- reads
    def get(self, rid: str) -> Row | None:
        return self.rows.get(rid)

    def sorted_entries(self, include_deleted: bool) -> BlockList:
        return self.all if include_deleted else self.live

    def sms_bounds(self, include_deleted: bool, lo: int | None, lo_incl: bool,
                   hi: int | None, hi_incl: bool) -> tuple[int, int]:
        """Index positions [i, j) of the entries whose SystemModstamp lies within the bounds."""
        lst = self.sorted_entries(include_deleted)
        if lo is None:
            i = 0
        elif lo_incl:
            i = lst.bisect_left((lo,))
        else:
            i = lst.bisect_right((lo, _MAX_STR))
        if hi is None:
            j = len(lst)
        elif hi_incl:
            j = lst.bisect_right((hi, _MAX_STR))
        else:
            j = lst.bisect_left((hi,))
        return i, max(i, j)

    def count(self, include_deleted: bool = False) -> int:
        return len(self.all if include_deleted else self.live)


class TableView:
    """A table as the integration user sees it when some of its fields are hidden from that user
    (field-level security): the same rows and indexes, a narrower schema."""

    def __init__(self, table: Table, schema: ObjectSchema) -> None:
        self._table = table
        self.schema = schema

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


# What a query runs over: a table, or the integration user's view of it (some fields hidden).
AnyTable = Table | TableView
