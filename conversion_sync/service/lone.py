"""The lone records of a batch, written in a thread while the next batch is walked (issue 10).

A lone record (store/first_load.py) only creates a contact: no other record of the mirror
shares its email or names it (a merge's survivor, a conversion's Contact), and no contact held
its email or was linked to it when its batch was applied. So nothing a later batch reads
depends on its contact, and its write (the contact, its events, the record marked applied)
can be its own transaction, committed after its batch's walk and alongside the next batch's
reads and rules: the database writes while Python works. The ids were given when its batch
was numbered (R4e), so the result is the one of applying the records one by one.

`LoneWrites.drain()` waits for every write handed over; the apply calls it before anything
that may write between two batches (a push of waiting contacts, H3) and at the end of the
step. A write the database refuses is rolled back and its records go through the ordered walk
instead, on the caller's thread at the next drain (H2 isolates a record that still fails). A
killed run leaves a record whose write was not committed pending, and the next run applies it.
On SQLite (one writer at a time) each write is done at once, on the caller's thread.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from conversion_sync.service.overlap import InOrder
from conversion_sync.store import first_load, staging
from conversion_sync.sync.records import PulledRecord


class LoneWrite(NamedTuple):
    """What a batch leaves to write for its lone records."""

    records: list[PulledRecord]
    taken: dict[str, tuple[tuple[str, str], ...]]   # per object, the fields a new contact takes
    rows: dict[str, list[dict]]                      # per object, first_load.create's rows
    moved: int                                       # how many of them join their Account's company
    partition: str | None = None


Walk = Callable[[list[PulledRecord]], Counter]


class LoneWrites:
    """Lone writes, one at a time in the order given, in a thread on PostgreSQL. `walk(records)`
    applies records refused by the database through the ordered walk."""

    def __init__(self, engine: Engine, *, run_id: str | None, now: dt.datetime, walk: Walk,
                 threaded: bool | None = None) -> None:
        self.engine, self.run_id, self.now, self.walk = engine, run_id, now, walk
        self.threaded = engine.dialect.name == "postgresql" if threaded is None else threaded
        self.done: list[tuple[str | None, Counter]] = []   # (partition, counts) of each write, in order
        self.refused: list[LoneWrite] = []
        self.applied = 0          # records written since the last drain (read by the progress line)
        self._writer: InOrder[LoneWrite] | None = None

    def put(self, item: LoneWrite) -> None:
        if not self.threaded:
            self._write(item)
            return
        if self._writer is None:
            self._writer = InOrder(self._write, name="apply-lone")
        self._writer.put(item)

    def drain(self) -> list[tuple[str | None, Counter]]:
        """Every write handed over committed (or refused and walked); returns the counts of all
        of them since the last drain, by partition."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.finish()
        for item in self.refused:
            self.done.append((item.partition, self.walk(item.records)))
        self.refused = []
        done, self.done, self.applied = self.done, [], 0
        return done

    def stop(self) -> None:
        """The caller failed: stop after the write under way (what was not written stays pending)."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.__exit__(RuntimeError, None, None)

    def _write(self, item: LoneWrite) -> None:
        ids = [record.salesforce_id for record in item.records]
        try:
            with self.engine.begin() as conn:
                for sobject, taken in item.taken.items():
                    first_load.create(conn, sobject, taken, item.rows.get(sobject, []), now=self.now,
                                      run_id=self.run_id)
                staging.mark_applied(conn, ids)
        except DBAPIError:
            self.refused.append(item)
            return
        self.applied += len(ids)
        self.done.append((item.partition, Counter(applied=len(ids), created=len(ids), moved_company=item.moved,
                                                  created_set_based=len(ids))))

