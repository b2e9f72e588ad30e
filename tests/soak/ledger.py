"""The soak driver's ledger: who wrote each compared field of each person last, when, and what.

A person is keyed by its Conversion contact (`c<id>`) once the driver knows it, else by its
Salesforce record (`s<id18>`); at the end both keys of a linked pair are read together and the
latest write per field is the value both sides must hold (R5: the side that changed it last).
Times are this machine's wall clock (time.monotonic would do; the wall clock reads better in a
failure message); the org's skewed clock never enters the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SALESFORCE, CONVERSION = "salesforce", "conversion"
# The fields both sides edit; all are `two_way` in the soak's settings, so the last writer wins.
COMPARED = {"first_name": "FirstName", "last_name": "LastName", "title": "Title", "phone": "Phone"}


def norm(value: Any) -> Any:
    """The form values are compared in (what the sync stores: trimmed, blank is none)."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


@dataclass
class Write:
    side: str
    value: Any
    at: float
    what: str          # the action, for failure messages

    def describe(self) -> str:
        return f"{self.side} wrote {self.value!r} ({self.what}, t={self.at:.2f})"


@dataclass
class Entry:
    """One line of a person's history, for the failure message: a write by a user (with the
    org's stamp of it for a Salesforce write), or a driver event (a cycle, a kill, a clock move)."""

    at: float
    text: str
    keys: tuple[str, ...] = ()      # the persons it concerns; () = everyone (a cycle, a clock move)


@dataclass
class Ledger:
    writes: dict[str, dict[str, Write]] = field(default_factory=dict)
    last_sf_write: dict[str, float] = field(default_factory=dict)
    last_cv_write: dict[str, float] = field(default_factory=dict)
    history: list[Entry] = field(default_factory=list)      # every write and driver event, in order

    def record(self, key: str, side: str, values: dict[str, Any], what: str, at: float | None = None,
               stamp: Any = None) -> None:
        """A write of `values` by `side`; `stamp` is the org's LastModifiedDate of a Salesforce write."""
        at = time.time() if at is None else at
        person = self.writes.setdefault(key, {})
        for name, value in values.items():
            if name in COMPARED:
                person[name] = Write(side, norm(value), at, what)
        (self.last_sf_write if side == SALESFORCE else self.last_cv_write)[key] = at
        shown = {name: norm(value) for name, value in values.items() if name in COMPARED}
        self.history.append(Entry(at, f"{side} {what}: {shown}" + (f" (org stamp {stamp})" if stamp else ""),
                                  (key,)))

    def note(self, text: str, keys: Iterable[str] = ()) -> None:
        """A driver event in the history (a cycle and what it may push, a kill, a clock move, a fault)."""
        self.history.append(Entry(time.time(), text, tuple(keys)))

    def story(self, keys: Iterable[str], since: float = 0.0) -> list[Entry]:
        """The history of one person (its writes and the events that concern it or everyone)."""
        wanted = set(keys)
        return [e for e in self.history if e.at >= since and (not e.keys or wanted & set(e.keys))]

    def latest(self, keys: Iterable[str]) -> dict[str, Write]:
        """The last write per field over all keys of one person."""
        result: dict[str, Write] = {}
        for key in keys:
            for name, write in self.writes.get(key, {}).items():
                if name not in result or write.at >= result[name].at:
                    result[name] = write
        return result

    def last_write(self, keys: Iterable[str], side: str) -> float:
        table = self.last_sf_write if side == SALESFORCE else self.last_cv_write
        return max((table.get(k, 0.0) for k in keys), default=0.0)
