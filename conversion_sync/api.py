"""The Python API: what forms, workflows and scripts call (the CLI is a front over the same).

    from conversion_sync import api
    outcome = api.identify(email="ann@example.com", traits={"first_name": "Ann"}, user_id="u-42")
    api.push_contacts([outcome.contact_id])          # P3: push a skipped contact now
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, overload

from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.runner import CycleResult, run_job
from conversion_sync.service.entry import EntryOutcome, ImportSummary, identify_entries
from conversion_sync.service.entry import import_csv as _import_csv
from conversion_sync.settings.sync import load_sync_settings
from conversion_sync.store.editing import set_contact_field
from conversion_sync.store.identity import request_push
from conversion_sync.store.merge import merge_contacts as _merge
from conversion_sync.sync.identity import Entry


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def identify(email: str | None = None, *, traits: dict[str, Any] | None = None, user_id: str | None = None,
             cookie: str | None = None, salesforce_id: str | None = None, sync: str | None = None,
             source: str = "form") -> EntryOutcome:
    """P1/P2: a contact enters (a form submission, an API call); returns which contact it is.
    `sync` is "immediate" or "skip" (default: the `default_entry_sync` setting)."""
    entry = Entry(email=email, traits=dict(traits or {}), user_id=user_id, cookie=cookie,
                  salesforce_id=salesforce_id, sync=sync, source=source)
    return identify_entries(ConversionDatabase().engine(), load_sync_settings(), [entry], now=_now())[0]


def import_csv(path: str | Path, *, sync: str | None = None) -> ImportSummary:
    """P1: a CSV upload; bad rows are reported by line, good rows enter."""
    summary, _ = _import_csv(ConversionDatabase().engine(), load_sync_settings(), Path(path), sync=sync, now=_now())
    return summary


@overload
def push_contacts(contact_ids: Sequence[int] = (), *, all_skipped: bool = False,
                  now: Literal[True] = True) -> CycleResult: ...
@overload
def push_contacts(contact_ids: Sequence[int] = (), *, all_skipped: bool = False, now: Literal[False]) -> list[int]: ...
def push_contacts(contact_ids: Sequence[int] = (), *, all_skipped: bool = False, now: bool = True) -> CycleResult | list[int]:
    """P3 (the workflow entry point): push these contacts, or all skipped ones, to Salesforce.

    With `now` (default) the push job runs in this process and its result is returned; otherwise
    the contacts are queued and the push sensor sends them within seconds."""
    if now:
        return run_job("push_job", run_config={"ops": {"salesforce_push": {"config": {
            "contact_ids": list(contact_ids), "all_skipped": all_skipped}}}})
    with ConversionDatabase().engine().begin() as conn:
        return request_push(conn, contact_ids=contact_ids, all_skipped=all_skipped)


def merge_contacts(keep: int, remove: int) -> dict[str, Any]:
    """P6: merge `remove` into `keep` (refused for contacts linked to different records)."""
    with ConversionDatabase().engine().begin() as conn:
        return _merge(conn, load_sync_settings().custom_fields, keep, remove, now=_now())


def set_field(contact_id: int, field: str, value: Any) -> bool:
    """A Conversion-side edit of one field (pushed under R5's push column)."""
    with ConversionDatabase().engine().begin() as conn:
        return set_contact_field(conn, load_sync_settings().custom_fields, contact_id, field, value, now=_now(), source="api")
