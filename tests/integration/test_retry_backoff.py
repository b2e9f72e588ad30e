"""H2 through the real sync job against the sandbox org: a record Salesforce rejects, or a pulled
record Conversion cannot take, is kept with its error and retried with a delay that doubles;
nothing is retried before it is due, it is retried once due, a push gives up after
`push_max_attempts` and waits for `contacts push ID`, and a record fixed in Salesforce goes
through on the next cycle (a fresh start).

Time moves by setting our clock as the sync's steps read it (`assets.runtime.utcnow`, the start
of each step, which is the `now` of apply and push): hours of backoff pass without a timed test."""

import datetime as dt

import dagster as dg
import pytest

from conversion_sync import api
from conversion_sync.assets import runtime
from conversion_sync.assets import salesforce as salesforce_assets
from conversion_sync.config import load_sync_settings
from conversion_sync.store.editing import set_contact_field

UTC = dt.UTC
WRITES = ("sobject_create", "sobject_update", "sobject_upsert", "collections_create", "collections_update",
          "collections_upsert", "bulk_ingest")


class Clock:
    """Our clock, standing still from the start of the test except when moved."""

    def __init__(self):
        self.now = dt.datetime.now(UTC)

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    """The `now` of the apply and push steps (each step's start) follows this clock; the pull
    window keeps the real one, so records the org stamps during the test are still pulled."""
    frozen = Clock()
    real = runtime.utcnow
    monkeypatch.setattr(salesforce_assets, "utcnow", real)
    monkeypatch.setattr(runtime, "utcnow", lambda: frozen.now)
    return frozen


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def writes(org) -> int:
    counters = org.counters()
    return sum(counters.get(kind, 0) for kind in WRITES)


@pytest.mark.slow
def test_a_rejected_push_waits_out_its_backoff_then_gives_up(harness, org, sync_config, clock, instance):
    sync_config("push_max_attempts: 3\npush_retry_base_seconds: 60\n"
                "fields:\n  title: {salesforce: Title, preference: two_way}\n")
    lead = org.create("Lead", {"LastName": "Busy", "Company": "X", "Email": "busy@example.com"})
    harness.cycle(instance)
    contact = harness.contact_of(lead)
    with harness.engine.begin() as conn:
        set_contact_field(conn, load_sync_settings().custom_fields, contact.id, "title", "VP", now=dt.datetime.now(UTC))
    org.lock_record(lead, times=3)        # another user holds the row for the next three writes

    def cycle_and_writes() -> int:
        org.reset_counters()
        result = harness.cycle(instance)
        assert result.success
        return writes(org)

    def state():
        row = harness.contact(contact.id)
        return row.push_state, row.push_attempts

    assert cycle_and_writes() == 1                          # attempt 1: rejected
    assert state() == ("failed", 1) and "UNABLE_TO_LOCK_ROW" in harness.contact(contact.id).push_error
    assert cycle_and_writes() == 0                          # the next cycle: not due, no write
    clock.advance(59)
    assert cycle_and_writes() == 0 and state() == ("failed", 1)
    clock.advance(1)                                        # 60 s after the first attempt: due
    assert cycle_and_writes() == 1 and state() == ("failed", 2)
    clock.advance(119)                                      # the delay doubled: 120 s
    assert cycle_and_writes() == 0 and state() == ("failed", 2)
    clock.advance(1)
    assert cycle_and_writes() == 1                          # attempt 3 of 3: given up
    assert state() == ("needs_attention", 3) and harness.contact(contact.id).push_next_attempt_at is None
    clock.advance(30 * 24 * 3600)                           # a month of cycles: it waits for a person
    assert cycle_and_writes() == 0 and state() == ("needs_attention", 3)
    assert org.get("Lead", lead)["Title"] is None
    # `contacts push ID`: the lock is gone now, the edit goes out and the error is cleared.
    result = api.push_contacts([contact.id])
    assert result.success and result.steps["salesforce_push"]["updated_in_salesforce"] == 1
    assert org.get("Lead", lead)["Title"] == "VP"
    row = harness.contact(contact.id)
    assert (row.push_state, row.push_attempts, row.push_error) == ("pushed", 0, None)


@pytest.mark.slow
def test_a_pulled_record_that_fails_waits_until_due_and_a_fix_goes_through_at_once(harness, org, clock, instance):
    good = org.create("Lead", {"LastName": "Good", "Company": "X", "Email": "good@example.com"})
    # loaded without validation (an old data import): an address Conversion cannot take
    bad = org.seed("Lead", [{"LastName": "Bad", "Company": "X", "Email": "not-an-address"}])[0]
    first = harness.cycle(instance)
    assert first.steps["contacts"]["failed"] == 1
    assert harness.contact_of(good) is not None and harness.contact_of(bad) is None   # one bad record blocks no other
    staged = harness.staged(bad)
    assert staged.pending and staged.attempts == 1 and "invalid email" in staged.last_error

    def attempts_after_a_cycle() -> int:
        harness.cycle(instance)
        return harness.staged(bad).attempts

    assert attempts_after_a_cycle() == 1           # re-pulled by the lookback window, but not due
    clock.advance(59)
    assert attempts_after_a_cycle() == 1
    clock.advance(1)
    assert attempts_after_a_cycle() == 2           # due after 60 s: retried (and failed again)
    clock.advance(119)
    assert attempts_after_a_cycle() == 2           # the next delay is 120 s
    clock.advance(1)
    assert attempts_after_a_cycle() == 3
    # Fixed in Salesforce while the next attempt is 240 s away: the next cycle takes it.
    org.update("Lead", bad, {"Email": "fixed@example.com"})
    clock.advance(1)
    harness.cycle(instance)
    assert harness.contact_of(bad).email == "fixed@example.com"
    staged = harness.staged(bad)
    assert not staged.pending and staged.last_error is None and staged.attempts == 0
