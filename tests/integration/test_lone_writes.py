"""The lone records of a batch (those that only create a contact, R4c) are written in their own
transaction, in a thread on PostgreSQL, while the next batch is walked (issue 10,
service/lone.py). What a user would notice if that went wrong: a person lost or created twice, a
push between two batches that sees half a batch. On SQLite and PostgreSQL, through the sandbox
org."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from conversion_sync.config import load_sync_settings
from conversion_sync.service import lone
from conversion_sync.service.apply import apply_people
from conversion_sync.store.schema import salesforce_records, sync_events
from conversion_sync.sync.ids import to_18
from tests.integration.test_pull_matching import add_conversion_contact

UTC = dt.UTC


def _leads(org, count, prefix="lone"):
    return [org.create("Lead", {"LastName": f"L{i}", "Company": "X", "Email": f"{prefix}{i}@example.com"})
            for i in range(count)]


def _pending(harness) -> int:
    with harness.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(salesforce_records)
                            .where(salesforce_records.c.pending.is_(True))).scalar()


def _created_events(harness) -> int:
    with harness.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(sync_events)
                            .where(sync_events.c.kind == "contact_created")).scalar()


def test_r4a_a_contact_linked_to_a_lone_record_while_its_batch_is_written_is_the_one_it_keeps(
        harness, org, monkeypatch):
    """A Conversion user links a contact to a lone Lead after its batch was checked and before
    its contact is written: the database refuses the second contact for that Lead, the write
    is rolled back whole, and its records go through the ordered walk, which finds the linked
    contact (R4a). Nobody is lost, nobody is doubled."""
    leads = _leads(org, 4)
    harness.pull(apply=False)
    real_create = lone.first_load.create
    linked = []

    def create_after_a_user_links(conn, sobject, taken, rows, **kwargs):
        if not linked:
            linked.append(add_conversion_contact(harness, "someone@example.com", first_name="Form",
                                                 salesforce_id=to_18(leads[2])))
        return real_create(conn, sobject, taken, rows, **kwargs)

    monkeypatch.setattr(lone.first_load, "create", create_after_a_user_links)
    counts = apply_people(harness.engine, load_sync_settings(), run_id="r", now=dt.datetime.now(UTC))

    assert counts["applied"] == 4 and counts["failed"] == 0
    assert counts["created_set_based"] == 0      # the one write was refused: all four were walked
    assert counts["created"] == 3 and counts["linked_by_id"] == 1
    assert sorted(c.salesforce_id for c in harness.contacts()) == sorted(to_18(lead) for lead in leads)
    kept = harness.contact(linked[0])
    assert kept.salesforce_id == to_18(leads[2]) and kept.first_name == "Form"
    assert _created_events(harness) == 3 and _pending(harness) == 0


def test_a_step_that_dies_before_a_lone_write_leaves_its_records_for_the_next_step(harness, org, monkeypatch):
    """The walk of a batch is committed, its lone records' write is not (the process dies
    there): they stay pending, and the next step gives each of them its one contact."""
    shared = _leads(org, 3, prefix="shared")
    contact = org.create("Contact", {"LastName": "C", "Email": "shared0@example.com"})   # shares an email: walked
    lone_ones = _leads(org, 5)
    harness.pull(apply=False)
    settings = load_sync_settings().model_copy(update={"apply_batch_size": 3})
    real_create = lone.first_load.create

    def dies(*args, **kwargs):
        raise RuntimeError("the run's process is killed here")

    monkeypatch.setattr(lone.first_load, "create", dies)
    with pytest.raises(RuntimeError, match="killed"):
        apply_people(harness.engine, settings, run_id="r1", now=dt.datetime.now(UTC))
    assert _pending(harness) >= 1
    monkeypatch.setattr(lone.first_load, "create", real_create)
    counts = apply_people(harness.engine, settings, run_id="r2", now=dt.datetime.now(UTC))

    assert counts["failed"] == 0 and _pending(harness) == 0
    records = [*shared, contact, *lone_ones]
    assert sorted(c.salesforce_id for c in harness.contacts()) == sorted(to_18(r) for r in records)
    assert _created_events(harness) == len(records)


class _Between:
    """A progress callback that says whether it writes between two batches; when it does, it
    checks that every record the progress line counts as applied is applied in the database."""

    def __init__(self, harness, writes: bool):
        self.harness, self.writes, self.seen = harness, writes, []

    def will_write(self) -> bool:
        return self.writes

    def __call__(self, line: str) -> None:
        applied = int(line.split(": ")[1].split()[0])
        if self.writes:
            with self.harness.engine.connect() as conn:
                done = conn.execute(select(func.count()).select_from(salesforce_records)
                                    .where(salesforce_records.c.pending.is_(False))).scalar()
            assert done == applied
        self.seen.append(applied)


@pytest.mark.parametrize("writes", [True, False], ids=["push between batches", "log line only"])
def test_what_runs_between_two_batches_sees_every_lone_record_of_the_batches_before_written(harness, org, writes):
    _leads(org, 11)
    org.create("Contact", {"LastName": "C", "Email": "lone3@example.com"})     # one pair walked
    harness.pull(apply=False)
    settings = load_sync_settings().model_copy(update={"apply_batch_size": 2})
    between = _Between(harness, writes)
    counts = apply_people(harness.engine, settings, run_id="r", now=dt.datetime.now(UTC), progress=between)

    assert counts["applied"] == 12 and counts["created_set_based"] == 10 and _pending(harness) == 0
    assert len(between.seen) == counts["batches"] == 6
    assert between.seen == sorted(between.seen) and between.seen[-1] == 12 if writes else between.seen[-1] <= 12
    assert len(harness.contacts()) == 12     # the Lead and the Contact sharing an email: two people (R4c)
