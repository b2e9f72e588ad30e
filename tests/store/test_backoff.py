"""H2 at the store: a failed push or a pulled record that failed to apply is retried with a delay
that doubles (60, 120, 240 ... s, capped), not before it is due, and once due; a push gives up
after `push_max_attempts` (it then waits for a person: `contacts push ID`); a pulled record that
changes in Salesforce starts afresh. Each test fails on a one-line mutation of the rule (see
docs/testing.md)."""

import datetime as dt

from sqlalchemy import insert, select, update

from conversion_sync.store import push as push_store
from conversion_sync.store import staging
from conversion_sync.store.identity import request_push
from conversion_sync.store.schema import contacts, salesforce_records
from conversion_sync.sync.records import PulledRecord

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEAD = "00Q8d0000000001AAA"


def _contact(engine, *, salesforce_id=None, state="queued", edited_at=None) -> int:
    with engine.begin() as conn:
        return conn.execute(insert(contacts).values(
            email="b@example.com", email_key="b@example.com", origin="form", salesforce_sync="immediate",
            salesforce_id=salesforce_id, salesforce_object="Lead" if salesforce_id else None,
            push_state=state, edited_in_conversion_at=edited_at, created_at=T0, updated_at=T0)
            .returning(contacts.c.id)).scalar()


def _reject(engine, contact_id, now, *, max_attempts=20):
    with engine.begin() as conn:
        push_store.record_rejected(conn, {contact_id: "UNABLE_TO_LOCK_ROW: busy"}, run_id=None, now=now,
                                   base_seconds=60, max_attempts=max_attempts)
        return conn.execute(select(contacts).where(contacts.c.id == contact_id)).one()


def _queued(engine, now):
    with engine.connect() as conn:
        return [c.key for c in push_store.queued_unlinked(conn, now=now, contact_ids=None, custom_fields=())]


def _updatable(engine, now):
    with engine.connect() as conn:
        return [c.contact.key for c in push_store.update_candidates(conn, now=now, contact_ids=None,
                                                                    custom_fields=())]


def test_push_delays_double_from_the_base_and_are_capped_at_a_day(engine):
    contact_id = _contact(engine)
    now, delays = T0, []
    for _ in range(14):
        row = _reject(engine, contact_id, now)
        delays.append((row.push_next_attempt_at - now).total_seconds())
        now = row.push_next_attempt_at
    assert delays == [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720, 61440, 86400, 86400, 86400]
    assert row.push_attempts == 14 and row.push_state == "failed"


def test_a_rejected_new_contact_waits_until_due_then_is_picked_up(engine):
    contact_id = _contact(engine)
    assert _queued(engine, T0) == [contact_id]
    with engine.connect() as conn:
        assert push_store.work_due_count(conn, T0) == 1
    row = _reject(engine, contact_id, T0)
    due = row.push_next_attempt_at
    assert _queued(engine, due - dt.timedelta(seconds=1)) == []
    assert _queued(engine, due) == [contact_id]
    row = _reject(engine, contact_id, due)                 # fails again: waits twice as long
    assert _queued(engine, due + dt.timedelta(seconds=119)) == []
    assert _queued(engine, due + dt.timedelta(seconds=120)) == [contact_id]


def test_the_push_sensor_does_not_count_a_contact_waiting_out_its_backoff(engine):
    contact_id = _contact(engine)
    with engine.begin() as conn:      # a queued contact that failed before (an edit re-queued it)
        conn.execute(update(contacts).where(contacts.c.id == contact_id)
                     .values(push_attempts=1, push_next_attempt_at=T0 + dt.timedelta(seconds=60)))
    with engine.connect() as conn:
        assert push_store.work_due_count(conn, T0) == 0
        assert push_store.work_due_count(conn, T0 + dt.timedelta(seconds=60)) == 1


def test_a_rejected_field_edit_waits_until_due(engine):
    contact_id = _contact(engine, salesforce_id=LEAD, state="pushed", edited_at=T0)
    with engine.begin() as conn:
        conn.execute(insert(salesforce_records).values(
            salesforce_id=LEAD, sobject="Lead", system_modstamp=T0 - dt.timedelta(hours=1),
            last_modified_date=T0 - dt.timedelta(hours=1), is_deleted=False, is_converted=False,
            email_key="b@example.com", fields={"Email": "b@example.com"}, applied_fields={"Email": "b@example.com"},
            applied_modstamp=T0 - dt.timedelta(hours=1), pending=False, attempts=0, pulled_at=T0))
    assert _updatable(engine, T0) == [contact_id]
    row = _reject(engine, contact_id, T0)
    assert _updatable(engine, row.push_next_attempt_at - dt.timedelta(seconds=1)) == []
    assert _updatable(engine, row.push_next_attempt_at) == [contact_id]


def test_a_push_gives_up_after_the_maximum_and_waits_for_a_person(engine):
    contact_id = _contact(engine)
    now = T0
    for attempt in (1, 2):
        row = _reject(engine, contact_id, now, max_attempts=3)
        assert (row.push_state, row.push_attempts) == ("failed", attempt)
        now = row.push_next_attempt_at
    row = _reject(engine, contact_id, now, max_attempts=3)
    assert (row.push_state, row.push_attempts, row.push_next_attempt_at) == ("needs_attention", 3, None)
    assert "UNABLE_TO_LOCK_ROW" in row.push_error
    a_year_later = now + dt.timedelta(days=365)
    assert _queued(engine, a_year_later) == []                 # never retried on its own
    with engine.connect() as conn:
        assert push_store.work_due_count(conn, a_year_later) == 0
    with engine.begin() as conn:                              # `contacts push ID`
        assert request_push(conn, contact_ids=[contact_id]) == [contact_id]
    assert _queued(engine, now) == [contact_id]
    row = _reject(engine, contact_id, now, max_attempts=3)     # a fresh budget
    assert (row.push_state, row.push_attempts) == ("failed", 1)


# -- pulled records ------------------------------------------------------------------------------------

def _record(email="bad address", stamp=T0) -> PulledRecord:
    return PulledRecord(sobject="Lead", salesforce_id=LEAD, system_modstamp=stamp, last_modified_date=stamp,
                        fields={"Email": email, "LastName": "B"})


def _pending(engine, now):
    return [r.salesforce_id for batch in staging.pending_batches(engine, ["Lead"], batch_size=100, now=now)
            for r in batch]


def _fail(engine, now):
    with engine.begin() as conn:
        staging.mark_failed(conn, {LEAD: "invalid email"}, now=now, base_seconds=60)
        return conn.execute(select(salesforce_records).where(salesforce_records.c.salesforce_id == LEAD)).one()


def test_a_pulled_record_that_fails_backs_off_doubling_to_a_cap(engine):
    with engine.begin() as conn:
        staging.stage_records(conn, [_record()], run_id=None, now=T0)
    now, delays = T0, []
    for _ in range(11):
        assert _pending(engine, now) == [LEAD]
        row = _fail(engine, now)
        due = row.next_attempt_at
        delays.append((due - now).total_seconds())
        assert _pending(engine, due - dt.timedelta(seconds=1)) == []
        now = due
    assert delays == [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600]
    assert row.attempts == 11 and row.pending


def test_re_pulling_the_same_failing_record_keeps_its_backoff(engine):
    """The lookback window (R2) pulls a record again for minutes: that is no fresh start."""
    with engine.begin() as conn:
        staging.stage_records(conn, [_record()], run_id=None, now=T0)
    _fail(engine, T0)
    row = _fail(engine, T0 + dt.timedelta(seconds=60))
    with engine.begin() as conn:
        staging.stage_records(conn, [_record()], run_id=None, now=T0 + dt.timedelta(seconds=90))
    assert _pending(engine, T0 + dt.timedelta(seconds=90)) == []
    again = conn_row(engine)
    assert (again.attempts, again.next_attempt_at) == (2, row.next_attempt_at)


def test_a_pulled_record_changed_in_salesforce_gets_a_fresh_start(engine):
    with engine.begin() as conn:
        staging.stage_records(conn, [_record()], run_id=None, now=T0)
    for minute in range(4):
        _fail(engine, T0 + dt.timedelta(minutes=minute))
    fixed = _record(email="b@example.com", stamp=T0 + dt.timedelta(minutes=5))
    with engine.begin() as conn:
        staging.stage_records(conn, [fixed], run_id=None, now=T0 + dt.timedelta(minutes=5))
    assert _pending(engine, T0 + dt.timedelta(minutes=5)) == [LEAD]    # not hours later
    row = conn_row(engine)
    assert (row.attempts, row.last_error, row.next_attempt_at) == (0, None, None)


def conn_row(engine):
    with engine.connect() as conn:
        return conn.execute(select(salesforce_records).where(salesforce_records.c.salesforce_id == LEAD)).one()
