"""Extract: Salesforce -> the mirror (staging), one object and one window at a time (R2).

Records are read lazily (REST pages, or Bulk API 2.0 when a wide window holds many), staged in
chunks, and the watermarks advance in the transaction of the last chunk, so a crash or a failure
never skips a change. The API budget (H3) stops the pull cleanly with the watermark where it was.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest
from sqlalchemy import Engine

from conversion_sync.errors import ApiBudgetExhausted, ConfigError
from conversion_sync.resources.salesforce import SalesforceClient, error_code, error_message
from conversion_sync.service.describe import not_visible, org_fields
from conversion_sync.service.overlap import InOrder, prefetched
from conversion_sync.settings.sync import SyncSettings
from conversion_sync.store import describe as describe_store
from conversion_sync.store import staging, watermarks
from conversion_sync.sync.records import SYSTEM_FIELDS, PulledRecord, from_api
from conversion_sync.sync.windows import PullWindow, partition_finder, partition_watermarks

log = logging.getLogger(__name__)

STAGE_CHUNK = 5_000   # records per staging transaction
RELATED_CHUNK = 200   # ids per IN (...) of a related-record query: keeps the GET URL short


@dataclass
class ExtractStats:
    sobject: str
    window: PullWindow
    counts: Counter = field(default_factory=Counter)
    api: str = "rest"
    watermark_before: dt.datetime | None = None
    watermark_after: dt.datetime | None = None
    stopped: str | None = None          # why the pull stopped early (API budget)
    hidden: list[str] = field(default_factory=list)   # mapped fields left out: not visible (R5)
    # The same counts per partition of the run: each record counts on its SystemModstamp's day.
    by_partition: dict[str, Counter] = field(default_factory=dict)

    def count(self, partition: str, key: str, n: int = 1) -> None:
        self.by_partition.setdefault(partition, Counter())[key] += n


def select_fields(sobject: str, settings: SyncSettings, described: dict | None = None) -> list[str]:
    """The fields a query of `sobject` selects: the system ones and the mapped ones, leaving out
    the mapped fields the org's describe does not show (field-level security, R5)."""
    fields = list(SYSTEM_FIELDS[sobject])
    hidden = set(hidden_fields(sobject, settings, described)) if described is not None else set()
    for name in settings.salesforce_fields(sobject):
        if name not in fields and name not in hidden:
            fields.append(name)
    return fields


def hidden_fields(sobject: str, settings: SyncSettings, described: dict) -> list[str]:
    """The mapped fields of `sobject` the integration user cannot see."""
    return [name for name in not_visible(described, settings.salesforce_fields(sobject))
            if name not in SYSTEM_FIELDS[sobject]]


def hidden_message(sobject: str, name: str) -> str:
    return (f"Salesforce does not show {sobject}.{name} to the integration user (field-level security, or no such "
            f"field), so the sync leaves it out of queries and pushes; the rest keeps syncing. Give the user read "
            f"and edit access to it, or fix the mapping in the file named by CONVERSION_SYNC_CONFIG.")


class FieldLists:
    """What each object's queries select in one extract, from the org's describe (cached a day,
    described again at once when a query answers INVALID_FIELD)."""

    def __init__(self, engine: Engine, client: SalesforceClient, settings: SyncSettings, now: dt.datetime):
        self.engine, self.client, self.settings, self.now = engine, client, settings, now
        self.described: dict[str, dict] = {}
        self.refreshed = False

    def _describe(self, sobject: str) -> dict:
        if sobject not in self.described:
            self.described[sobject] = org_fields(self.engine, self.client, sobject, now=self.now,
                                                 refresh=self.refreshed)
        return self.described[sobject]

    def select(self, sobject: str) -> list[str]:
        described = self._describe(sobject)
        missing = list(not_visible(described, SYSTEM_FIELDS[sobject]))
        if missing:
            raise ConfigError(f"Salesforce does not show {', '.join(f'{sobject}.{n}' for n in missing)} to the "
                              "integration user, and the sync cannot work without it; give the user read access.")
        return select_fields(sobject, self.settings, described)

    def hidden(self, sobject: str) -> list[str]:
        return hidden_fields(sobject, self.settings, self._describe(sobject))

    def keep(self) -> dict[str, set[str]]:
        """Object -> its hidden fields, whose last values the mirror keeps."""
        return {sobject: set(self.hidden(sobject)) for sobject in self.described}

    def refresh(self) -> bool:
        """Describe every object used so far again; True when a field list changed."""
        before = {sobject: self.select(sobject) for sobject in self.described}
        self.refreshed, self.described = True, {}
        return any(self.select(sobject) != fields for sobject, fields in before.items())


def soql_datetime(value: dt.datetime) -> str:
    """A datetime literal with milliseconds (format_soql drops sub-second precision, which would
    shift a window bound by up to a second); built from a datetime, never from user input."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def window_soql(sobject: str, fields: list[str], window: PullWindow, *, count: bool = False) -> str:
    conditions = ["SystemModstamp <= {upper:literal}"]
    params = {"upper": soql_datetime(window.upper)}
    if window.lower is not None:
        conditions.insert(0, "SystemModstamp >= {lower:literal}")
        params["lower"] = soql_datetime(window.lower)
    selected = "COUNT()" if count else ", ".join(fields)
    order = "" if count else " ORDER BY SystemModstamp, Id"
    return format_soql(f"SELECT {selected} FROM {sobject} WHERE {' AND '.join(conditions)}{order}", **params)


def extract(engine: Engine, client: SalesforceClient, settings: SyncSettings, sobject: str, window: PullWindow,
            *, partitions: list[tuple[str, dt.datetime, dt.datetime]], run_id: str | None,
            now: Callable[[], dt.datetime], progress: Callable[[str], None] = log.info) -> ExtractStats:
    """Pull one object's window into the mirror and advance its watermarks."""
    with engine.connect() as conn:
        before = watermarks.live_watermark(conn, sobject)
    stats = ExtractStats(sobject, window, watermark_before=before, watermark_after=before)
    lists = FieldLists(engine, client, settings, now())
    partition_of = partition_finder(partitions)
    try:
        client.limits()          # H3: read the org's usage before spending any of it
        client.check_budget()
        for attempt in (1, 2):
            try:
                _pull(engine, client, settings, sobject, window, lists, stats, run_id, now, progress, partition_of)
                break
            except SalesforceMalformedRequest as exc:
                # A field hidden since the last describe: describe again and retry once (R5).
                if error_code(exc) != "INVALID_FIELD" or attempt == 2 or not lists.refresh():
                    if error_code(exc) == "INVALID_FIELD":
                        raise ConfigError(f"Salesforce rejected the {sobject} field list ({error_message(exc)}); "
                                          "fix the field mapping in the file named by CONVERSION_SYNC_CONFIG.") from None
                    raise
                log.warning("%s: Salesforce answered %s; described the org again, retrying with the fields it shows",
                            sobject, error_message(exc))
                stats.counts.clear()
                stats.by_partition.clear()
    except ApiBudgetExhausted as exc:
        stats.stopped = str(exc)
        log.warning("%s pull stopped: %s", sobject, exc)
        return stats
    _record_hidden(engine, sobject, stats.hidden, run_id=run_id, now=now())
    marks = partition_watermarks(partitions, window)
    live_key = None
    if window.advances_live_watermark:
        live_key = next((key for key, start, end in partitions if start <= window.upper < end), None)
        if live_key is not None:
            marks[live_key] = window.upper
    with engine.begin() as conn:
        watermarks.write_watermarks(conn, sobject, marks, live_key=live_key, window_start=window.lower,
                                    records={key: stats.by_partition.get(key, Counter())["pulled"] for key in marks},
                                    run_id=run_id, now=now())
        stats.watermark_after = watermarks.live_watermark(conn, sobject)
    if stats.counts["new"]:
        with engine.begin() as conn:
            staging.refresh_statistics(conn, new_rows=stats.counts["new"])
    return stats


def _pull(engine: Engine, client: SalesforceClient, settings: SyncSettings, sobject: str, window: PullWindow,
          lists: FieldLists, stats: ExtractStats, run_id: str | None, now: Callable[[], dt.datetime],
          progress: Callable[[str], None], partition_of: Callable[[dt.datetime], str]) -> None:
    fields = lists.select(sobject)
    stats.hidden = lists.hidden(sobject)
    if stats.hidden:
        log.warning("%s: left out %s (not visible to the integration user)", sobject, ", ".join(stats.hidden))
    pages = prefetched(_pages(client, settings, sobject, fields, window, stats))
    # The chunks are staged in their own thread, in order, while the next one is parsed; what
    # they count is added to `stats` when the last one is written (or when the pull stops).
    # `progress` runs in that thread after each chunk is committed: what it does between two
    # chunks (a push of waiting contacts writes the mirror, H3) never overlaps a staging.
    staged = ExtractStats(sobject, window)
    written = 0

    def stage(records: list[PulledRecord]) -> None:
        nonlocal written
        _stage(engine, client, settings, sobject, records, staged, run_id, now(), lists, partition_of)
        written += len(records)
        progress(f"{sobject}: {written} records pulled")

    try:
        with InOrder(stage) as stager:
            for page in pages:
                # Each page is staged as it comes (a REST page holds 2,000 records); a Bulk API
                # page, up to 50,000, a chunk at a time, so that one chunk is staged while the
                # next is parsed.
                for start in range(0, len(page), STAGE_CHUNK):
                    records = [from_api(sobject, raw) for raw in page[start:start + STAGE_CHUNK]]
                    stats.counts["pulled"] += len(records)
                    for record in records:
                        stats.count(partition_of(record.system_modstamp), "pulled")
                    stager.put(records)
    finally:
        stats.counts.update(staged.counts)
        for day, counts in staged.by_partition.items():
            stats.by_partition.setdefault(day, Counter()).update(counts)


def _record_hidden(engine: Engine, sobject: str, hidden: list[str], *, run_id: str | None, now: dt.datetime) -> None:
    """One field_hidden warning per hidden field, resolved once it is visible again (R5)."""
    with engine.begin() as conn:
        describe_store.record_hidden_fields(conn, sobject, hidden, run_id=run_id, now=now,
                                            messages={name: hidden_message(sobject, name) for name in hidden})


def _pages(client: SalesforceClient, settings: SyncSettings, sobject: str, fields: list[str],
           window: PullWindow, stats: ExtractStats) -> Iterator[list[dict]]:
    soql = window_soql(sobject, fields, window)
    if window.wide:
        total = client.count(window_soql(sobject, fields, window, count=True), include_deleted=True)
        stats.counts["expected"] = total
        if total >= settings.bulk_query_threshold:
            stats.api = "bulk2"
            return client.bulk_query_pages(sobject, soql, include_deleted=True)
    return client.query_pages(soql, include_deleted=True)


def _stage(engine: Engine, client: SalesforceClient, settings: SyncSettings, sobject: str, records: list,
           stats: ExtractStats, run_id: str | None, now: dt.datetime, lists: FieldLists, partition_of) -> None:
    if not records:
        return
    # A record the chunk holds twice (edited while its pages were read) is staged once, as its
    # newest copy: the older one would never overwrite it anyway (staging.stage_records).
    newest: dict[str, PulledRecord] = {}
    for record in records:
        held = newest.get(record.salesforce_id)
        if held is None or record.system_modstamp >= held.system_modstamp:
            newest[record.salesforce_id] = record
    records = list(newest.values())
    # Read once for both uses: which records are new (their related records), and what the
    # staging compares each copy with. Nothing else writes the mirror until this chunk is
    # staged: one sync runs at a time (R1), and pushes run between chunks (H3).
    with engine.connect() as conn:
        existing = staging.stored_rows(conn, [r.salesforce_id for r in records])
    related = related_records(client, settings, sobject, records, set(existing), engine, lists)
    keep = lists.keep()
    by_day: dict[str, list] = {}
    for record in records:
        by_day.setdefault(partition_of(record.system_modstamp), []).append(record)
    with engine.begin() as conn:
        # Staged a day at a time (one upsert per day in the chunk), so each partition gets its own counts.
        for day, day_records in by_day.items():
            counts = staging.stage_records(conn, day_records, run_id=run_id, now=now, keep_fields=keep,
                                           existing=existing)
            stats.counts.update(counts)
            stats.by_partition.setdefault(day, Counter()).update(counts)
        if related:
            stats.counts["related"] += len(related)
            staging.stage_records(conn, related, run_id=run_id, now=now, keep_fields=keep)


def related_records(client: SalesforceClient, settings: SyncSettings, sobject: str, records: list,
                     known: set[str], engine: Engine, lists: FieldLists) -> list:
    """Records the batch needs and the mirror lacks, fetched in batches of ids:
    - for Contacts seen for the first time, the Leads that converted into them (R7, Contact first);
    - the Accounts their AccountId / ConvertedAccountId name (R6, R7)."""
    fetched: list[PulledRecord] = []
    if sobject == "Contact" and settings.pull_leads:
        # Conversion copies the Lead's email to the Contact: only a new Contact sharing an email
        # with a Lead the mirror knows can be the product of a conversion not yet pulled.
        fresh = [r for r in records if r.salesforce_id not in known and not r.is_deleted and r.email_key]
        with engine.connect() as conn:
            lead_emails = staging.lead_email_keys(conn, [r.email_key for r in fresh])
        new_contacts = [r.salesforce_id for r in fresh if r.email_key in lead_emails]
        for chunk in staging.chunked(new_contacts, RELATED_CHUNK):
            soql = format_soql(f"SELECT {', '.join(lists.select('Lead'))} FROM Lead "
                               "WHERE IsConverted = true AND ConvertedContactId IN {ids}", ids=list(chunk))
            fetched.extend(from_api("Lead", raw) for raw in client.query(soql))
    if settings.pull_accounts:
        accounts = {r.account_id for r in records if r.account_id} | {
            r.converted_account_id for r in records if r.converted_account_id}
        with engine.connect() as conn:
            missing = sorted(accounts - staging.known_ids(conn, accounts))
        fetched.extend(records_by_id(client, lists, "Account", missing))
    return fetched


def records_by_id(client: SalesforceClient, lists: FieldLists, sobject: str, ids: Sequence[str]) -> Iterator[PulledRecord]:
    """These records as Salesforce has them now (deleted ones too), one `WHERE Id IN (...)` per
    RELATED_CHUNK ids; an id Salesforce does not know is simply not among them."""
    if not ids:
        return                  # no describe, no query
    fields = ", ".join(lists.select(sobject))
    for chunk in staging.chunked(list(ids), RELATED_CHUNK):
        soql = format_soql(f"SELECT {fields} FROM {sobject} WHERE Id IN {{ids}}", ids=list(chunk))
        for raw in client.query(soql, include_deleted=True):
            yield from_api(sobject, raw)
