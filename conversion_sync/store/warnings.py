"""Closing sync warnings by hand: a person resolved the cause, or dismissed the warning as not
worth acting on. Who and when are kept; `warnings list --all` shows them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, select, update

from conversion_sync.store.schema import sync_warnings

# The kinds of warning the sync writes; `warnings list --kind` accepts these.
WARNING_KINDS = ("duplicate", "duplicate_email", "field_hidden", "push_error")
RESOLUTIONS = ("resolved", "dismissed")


@dataclass
class Closed:
    closed: list[int] = field(default_factory=list)          # closed now
    already_closed: list[int] = field(default_factory=list)  # were resolved or dismissed before
    unknown: list[int] = field(default_factory=list)         # no warning with that id


def close_warnings(conn: Connection, warning_ids: Sequence[int], *, resolution: str, by: str,
                   now: dt.datetime) -> Closed:
    """Mark open warnings resolved or dismissed by `by` at `now`; closed ones are left as they are."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}")
    ids = sorted({int(i) for i in warning_ids})
    found = {row.id: row.resolved_at for row in conn.execute(
        select(sync_warnings.c.id, sync_warnings.c.resolved_at).where(sync_warnings.c.id.in_(ids)))} if ids else {}
    outcome = Closed(unknown=[i for i in ids if i not in found],
                     already_closed=[i for i in ids if i in found and found[i] is not None])
    outcome.closed = [i for i in ids if i in found and found[i] is None]
    if outcome.closed:
        conn.execute(update(sync_warnings)
                     .where(sync_warnings.c.id.in_(outcome.closed), sync_warnings.c.resolved_at.is_(None))
                     .values(resolved_at=now, resolution=resolution, resolved_by=by))
    return outcome


def run_warnings(conn: Connection, run_id: str, limit: int) -> list[tuple[str, int | None, str]]:
    """(kind, contact id, message) of the warnings one run wrote, oldest first, at most `limit`."""
    rows = conn.execute(select(sync_warnings.c.kind, sync_warnings.c.contact_id, sync_warnings.c.message)
                        .where(sync_warnings.c.run_id == run_id).order_by(sync_warnings.c.id).limit(limit)).all()
    return [(row.kind, row.contact_id, row.message) for row in rows]
