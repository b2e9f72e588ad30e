"""Watermarks per object and daily partition (R2), written in the transaction that commits the
rows they cover."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import Connection, and_, func, insert, select, update

from conversion_sync.store.schema import sync_watermarks as wm


def live_watermark(conn: Connection, sobject: str) -> dt.datetime | None:
    return conn.execute(select(func.max(wm.c.watermark)).where(wm.c.sobject == sobject, wm.c.is_live.is_(True))).scalar()


def write_watermarks(conn: Connection, sobject: str, marks: dict[str, dt.datetime], *,
                     live_key: str | None, window_start: dt.datetime | None, records: int | Mapping[str, int],
                     run_id: str | None, now: dt.datetime) -> None:
    """Set each partition's watermark (never moving one backwards); `live_key` names the
    partition whose row carries the advanced live watermark. `records`: the records pulled,
    per partition (the day of their SystemModstamp) or one number for every partition."""
    if not marks:
        return
    existing = {row.partition_key: row for row in conn.execute(
        select(wm).where(wm.c.sobject == sobject, wm.c.partition_key.in_(list(marks))))}
    for key, mark in marks.items():
        row = existing.get(key)
        is_live = key == live_key
        pulled = records.get(key, 0) if isinstance(records, Mapping) else records
        values = {"watermark": mark, "window_start": window_start, "records": pulled, "run_id": run_id,
                  "updated_at": now}
        if row is None:
            conn.execute(insert(wm).values(sobject=sobject, partition_key=key, is_live=is_live, **values))
        else:
            if mark < row.watermark:
                values["watermark"] = row.watermark
            conn.execute(update(wm).where(and_(wm.c.sobject == sobject, wm.c.partition_key == key))
                         .values(is_live=row.is_live or is_live, **values))


def list_watermarks(conn: Connection, limit_per_object: int = 3) -> list[dict]:
    """The newest partitions' watermarks per object, for `status`."""
    rows = conn.execute(select(wm).order_by(wm.c.sobject, wm.c.partition_key.desc())).all()
    shown: dict[str, int] = {}
    out = []
    for row in rows:
        if shown.get(row.sobject, 0) >= limit_per_object:
            continue
        shown[row.sobject] = shown.get(row.sobject, 0) + 1
        out.append({"object": row.sobject, "partition": row.partition_key, "watermark": row.watermark,
                    "live": row.is_live, "records": row.records, "run_id": row.run_id, "updated_at": row.updated_at})
    return out
