"""The end-of-soak comparison of both sides, and the figures it prints.

Each check returns the offending records as sentences; the test asserts each list is empty with
a message naming the issue-8 finding a failure most likely is (the lead's map from symptom to
fix), and the runner prints the counts. Nothing here retries or waits on the sync's behalf
beyond the bounded reclaim wait of `runs_left_started`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from contextlib import contextmanager

import dagster as dg
from sqlalchemy import select

from conversion_sync.store.schema import contacts
from conversion_sync.sync.ids import to_18
from tests.soak.ledger import COMPARED, norm

LIVE_PEOPLE = ("SELECT Id, Email FROM Lead WHERE IsConverted = false AND Email != null",
               "SELECT Id, Email FROM Contact WHERE Email != null")
OPEN_RUN_STATUSES = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
                     dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]

# What a failing check most likely is, for the assertion message (ISSUE8.md, "Findings").
HINTS = {
    "lost": "finding 7 (a Lead converted into an existing Contact removes that Contact's contact) "
            "or a lost entry/record",
    "duplicated": "P4: a retried push created a second Salesforce record",
    "diverged": "finding 1 (Salesforce edits made just after a push are lost: the mirror carries our clock), "
                "or finding 7 where an item says so",
    "stuck queued": "finding 2 (a contact linked by the pull, or pushed with nothing to send, stays queued)",
    "runs left started": "finding 3 (a killed CLI sync leaves its Dagster run STARTED for ever)",
    "sensor": "finding 3 (sync_sensor skips every tick while a dead run is STARTED)",
    "push sensor": "finding 2 (push_sensor launches runs over a settled store)",
    "settle": "a clean cycle after the faults were cleared failed",
}


def _converted_into(driver, salesforce_id) -> str:
    if salesforce_id and to_18(salesforce_id) in driver.converted_into:
        return " [a Lead was converted into this existing Contact: finding 7]"
    return ""


def _contacts(engine):
    with engine.connect() as conn:
        return conn.execute(select(contacts)).all()


def lost(driver) -> list[str]:
    problems = []
    rows = _contacts(driver.engine)
    linked = {r.salesforce_id for r in rows if r.salesforce_id}
    # 1. Every live Salesforce person with an email is linked by a contact (R3/R7: converted
    #    Leads excluded); R4d's unique index makes "exactly one" the same as "at least one".
    for soql in LIVE_PEOPLE:
        for record in driver.org.query(soql):
            if (record["Email"] or "").strip() and to_18(record["Id"]) not in linked:
                problems.append(f"Salesforce {record['Id']} <{record['Email'].strip()}> is linked by no contact")
    # 2. The sync never removes a contact on its own (R7), except the one it made for a Contact
    #    born of a conversion, folded into the Lead's contact.
    present = {r.id for r in rows}
    for contact_id, seen in driver.seen_contacts.items():
        if contact_id in present:
            continue
        folded = (seen["origin"] == "salesforce" and seen["edited_in_conversion_at"] is None
                  and seen["salesforce_id"] in driver.conversion_born)
        if not folded:
            problems.append(f"contact {contact_id} <{seen['email']}> (origin {seen['origin']}, linked to "
                            f"{seen['salesforce_id']}) was removed{_converted_into(driver, seen['salesforce_id'])}")
    # 3. Every entry is still a contact; an entry sent to Salesforce is linked, unless the driver
    #    deleted or merged away its record.
    by_email = defaultdict(list)
    for r in rows:
        if r.email_key:
            by_email[r.email_key].append(r)
    # Gone from the sync's reach: deleted or merged away, or a Lead converted into a Contact
    # another contact already links (R7: no second link, a `duplicate` warning instead).
    deleted_emails = {(r["Email"] or "").strip().lower() for r in driver.org.query(
        "SELECT Email, IsDeleted FROM Lead WHERE IsDeleted = true OR IsConverted = true", include_deleted=True)
        + driver.org.query("SELECT Email, IsDeleted FROM Contact WHERE IsDeleted = true", include_deleted=True)}
    for email, entry in driver.entered.items():
        holders = by_email.get(email.lower(), [])
        if not holders:
            problems.append(f"entry <{email}> ({entry['how']}) is no contact any more")
        elif entry["sync"] == "--sync-to-salesforce" and not any(h.salesforce_id for h in holders) \
                and email.lower() not in deleted_emails:
            problems.append(f"entry <{email}> ({entry['how']}, sent to Salesforce) is linked to no Salesforce "
                            f"record (contact {holders[0].id}, push_state {holders[0].push_state}, "
                            f"error {holders[0].push_error!r})")
    return problems


def duplicated(driver) -> list[str]:
    """No two Salesforce records from one contact: one Lead per external id, one per email
    among the records the sync created (every entry's email is new to the org)."""
    problems = []
    created = driver.org.query("SELECT Id, Email, Conversion_Id__c, IsDeleted FROM Lead "
                               "WHERE Conversion_Id__c != null", include_deleted=True)
    for label, key in (("Conversion_Id__c", "Conversion_Id__c"), ("email", "Email")):
        groups = defaultdict(list)
        for record in created:
            groups[(record[key] or "").strip().lower()].append(record["Id"])
        problems += [f"{len(ids)} Leads created by the sync share {label} {value!r}: {', '.join(ids)}"
                     for value, ids in groups.items() if len(ids) > 1]
    return problems


def diverged(driver) -> list[str]:
    """Every compared field equal on both sides, and equal to the side that wrote it last."""
    problems = []
    for row in _contacts(driver.engine):
        if not row.salesforce_id or row.salesforce_object not in ("Lead", "Contact"):
            continue
        record = driver.org.get(row.salesforce_object, row.salesforce_id)
        if record is None or record.get("IsDeleted") or record.get("IsConverted"):
            continue
        latest = driver.ledger.latest(driver.keys(row.salesforce_id, row.id))
        if norm(record.get("Email")) and (norm(record["Email"]) or "").lower() != (norm(row.email) or "").lower():
            problems.append(f"contact {row.id} / {row.salesforce_object} {row.salesforce_id}: email "
                            f"{row.email!r} in Conversion, {record.get('Email')!r} in Salesforce"
                            f"{_converted_into(driver, row.salesforce_id)}")
        for name, sf_name in COMPARED.items():
            ours, theirs = norm(getattr(row, name)), norm(record.get(sf_name))
            write = latest.get(name)
            if ours != theirs or (write is not None and ours != write.value):
                last = write.describe() if write else "no write recorded"
                problems.append(f"contact {row.id} / {row.salesforce_object} {row.salesforce_id}: {name} "
                                f"{ours!r} in Conversion, {theirs!r} in Salesforce; last {last}"
                                f"{_converted_into(driver, row.salesforce_id)}"
                                + explain(driver, row, record, name))
    return problems


def _clock(at) -> str:
    if isinstance(at, (int, float)):
        at = dt.datetime.fromtimestamp(at, dt.UTC)
    return at.astimezone(dt.UTC).strftime("%H:%M:%S.%f")[:-3] if at else "-"


def explain(driver, row, record: dict, name: str, limit: int = 60) -> str:
    """Why one compared field diverged, for a person to read: the person's history (the soak's
    writes on both sides with the org's stamps, the cycles that could push it, kills, clock moves
    and faults) interleaved with the sync's own events for the contact, then what each side and
    the mirror hold now, with the field clocks of R5."""
    from conversion_sync.store.schema import salesforce_records, sync_events

    keys = driver.keys(row.salesforce_id, row.id)
    with driver.engine.connect() as conn:
        events = conn.execute(select(sync_events).where(sync_events.c.contact_id == row.id)
                              .order_by(sync_events.c.id)).all()
        mirror = conn.execute(select(salesforce_records).where(
            salesforce_records.c.salesforce_id == row.salesforce_id)).first()
    story = [(e.at, f"soak   {e.text}") for e in driver.ledger.story(keys)]
    story += [(e.created_at.timestamp(), f"sync   {e.kind} ({e.rule}, run {(e.run_id or '-')[:8]}): "
                                         f"{e.detail or ''} {e.changes or ''}") for e in events]
    story.sort(key=lambda item: item[0])
    # The lines from the person's first write on (driver events before it say nothing about it).
    first = next((i for i, (_, text) in enumerate(story) if not text.startswith("soak   cycle")
                  and not text.startswith("soak   org clock") and not text.startswith("soak   fault armed:")), 0)
    story = story[first:]
    shown = story[-limit:]
    lines = [f"history of contact {row.id} (keys {', '.join(keys)}; times on this machine's clock, UTC)"
             + (f", last {limit} of {len(story)} lines" if len(story) > limit else "") + ":"]
    lines += [f"  {_clock(at)} {text}" for at, text in shown]
    sf_field = COMPARED[name]
    lines.append(f"Conversion now: {name}={getattr(row, name)!r} {name}_updated_at={_clock(getattr(row, name + '_updated_at'))} "
                 f"edited_in_conversion_at={_clock(row.edited_in_conversion_at)} push_state={row.push_state} "
                 f"attempts={row.push_attempts} error={row.push_error!r}")
    lines.append(f"Salesforce now: {sf_field}={record.get(sf_field)!r} LastModifiedDate={record.get('LastModifiedDate')} "
                 f"SystemModstamp={record.get('SystemModstamp')} (org clock {driver.skew:+.1f} s from ours)")
    stamp = record.get("SystemModstamp")
    if stamp is not None and stamp.timestamp() >= driver.last_cycle_start:
        lines.append("the record's SystemModstamp is after the last cycle started (on our clock): no cycle could "
                     "pull it yet (R2: the window ends at our now - settle); the soak's settle must wait that out")
    if mirror is None:
        lines.append("mirror: no row")
    else:
        lines.append(f"mirror: {sf_field}={(mirror.fields or {}).get(sf_field)!r} applied "
                     f"{sf_field}={(mirror.applied_fields or {}).get(sf_field)!r} pending={mirror.pending} "
                     f"LastModifiedDate={_clock(mirror.last_modified_date)} SystemModstamp={_clock(mirror.system_modstamp)} "
                     f"applied_modstamp={_clock(mirror.applied_modstamp)} pulled_at={_clock(mirror.pulled_at)} "
                     f"run {(mirror.run_id or '-')[:8]} attempts={mirror.attempts} error={mirror.last_error!r}")
    return "\n      " + "\n      ".join(lines)


def stuck_queued(driver) -> list[str]:
    now = dt.datetime.now(dt.UTC)
    problems = []
    for row in _contacts(driver.engine):
        if row.push_state == "queued" or (row.push_state == "failed" and row.push_next_attempt_at
                                          and row.push_next_attempt_at <= now):
            problems.append(f"contact {row.id} <{row.email}> {row.push_state} (linked to {row.salesforce_id}, "
                            f"attempts {row.push_attempts}, error {row.push_error!r})")
        elif row.push_state not in (None, "queued", "failed", "pushed", "skipped"):
            problems.append(f"contact {row.id} <{row.email}> push_state {row.push_state} "
                            f"(error {row.push_error!r})")
    return problems


def _open_runs(instance) -> list:
    return list(instance.get_run_records(dg.RunsFilter(statuses=OPEN_RUN_STATUSES), limit=100))


def _sensor_context(instance):
    from conversion_sync.resources.database import ConversionDatabase

    return dg.build_sensor_context(instance=instance, resources={"database": ConversionDatabase()})


def runs_left_started(driver, wait_seconds: float = 10.0) -> list[str]:
    """No Dagster run left open. The sync may reclaim a dead run when the sensor looks, so the
    sensor is evaluated once a second for a bounded while before the runs are counted."""
    from conversion_sync.jobs.sensors import sync_sensor

    deadline = time.time() + wait_seconds
    while _open_runs(driver.instance) and time.time() < deadline:
        sync_sensor(_sensor_context(driver.instance))
        time.sleep(1)
    return [f"run {r.dagster_run.run_id} ({r.dagster_run.job_name}) is {r.dagster_run.status.value} "
            f"since {r.create_timestamp:%H:%M:%S}" for r in _open_runs(driver.instance)]


@contextmanager
def _interval(seconds: int):
    from conversion_sync.jobs import sensors

    saved = sensors.SYNC_INTERVAL_SECONDS
    sensors.SYNC_INTERVAL_SECONDS = seconds
    try:
        yield
    finally:
        sensors.SYNC_INTERVAL_SECONDS = saved


def sensor_schedules(driver) -> list[str]:
    """Once the 5-minute interval has passed (shortened to 1 s here: no test waits 5 minutes),
    the real sync_sensor asks for a run instead of skipping."""
    from conversion_sync.jobs.sensors import sync_sensor

    with _interval(1):
        time.sleep(1.2)
        result = sync_sensor(_sensor_context(driver.instance))
    if isinstance(result, dg.RunRequest):
        return []
    return [f"sync_sensor answered {type(result).__name__}: {getattr(result, 'skip_message', result)!r}"]


def push_sensor_idle(driver, evaluations: int = 20) -> list[str]:
    """Over a settled store the push sensor requests no run (a run with nothing to do would
    still read `limits`: an API call every few seconds)."""
    from conversion_sync.jobs.sensors import push_sensor

    requests = 0
    for _ in range(evaluations):
        if isinstance(push_sensor(_sensor_context(driver.instance)), dg.RunRequest):
            requests += 1
    return [f"push_sensor requested {requests} runs in {evaluations} evaluations"] if requests else []


def compare(driver) -> dict[str, list[str]]:
    """Every check, in the order the figures print."""
    return {"lost": lost(driver), "duplicated": duplicated(driver), "diverged": diverged(driver),
            "stuck queued": stuck_queued(driver), "runs left started": runs_left_started(driver),
            "sensor": sensor_schedules(driver), "push sensor": push_sensor_idle(driver),
            "settle": list(driver.settle_failures)}


def figure_lines(driver, problems: dict[str, list[str]]) -> list[str]:
    fig = driver.fig
    lines = [f"seed: {fig.seed}", f"cycles: {fig.cycles} ({fig.failed_cycles} failed under faults or kills)",
             f"kills: {fig.kills}", f"faults: {fig.faults}", f"clock moves: {fig.clock_moves}",
             f"Salesforce edits: {fig.salesforce_edits}", f"Conversion edits: {fig.conversion_edits}",
             f"entries: {fig.entries}"]
    lines += [f"{name}: {len(items)}" for name, items in problems.items()]
    return lines
