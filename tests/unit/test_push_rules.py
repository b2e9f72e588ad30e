"""The pure push rules (sync/push.py): which contacts have work due (H2), the clock of our own
writes and the mirror after one (R5)."""

import datetime as dt

import pytest

from conversion_sync.sync.fields import Preference, gate_open, push_to_salesforce, take_from_salesforce
from conversion_sync.sync.push import mirror_after_write, push_due, stamp_of_our_write
from conversion_sync.sync.records import PulledRecord

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SECOND = dt.timedelta(seconds=1)


@pytest.mark.parametrize("state, next_attempt_at, due", [
    ("queued", None, True),
    ("queued", NOW, True),
    ("failed", NOW - SECOND, True),
    ("failed", NOW + SECOND, False),          # still waiting out its backoff
    ("queued", NOW + SECOND, False),          # deferred (the API budget)
    ("needs_attention", None, False),         # given up: waits for a person
    ("pushed", None, False),
    ("skipped", None, False),
    (None, None, False),
])
def test_h2_push_work_is_due_only_for_waiting_contacts_past_their_backoff(state, next_attempt_at, due):
    assert push_due(state, next_attempt_at, NOW) is due


def test_r5_our_write_is_stamped_on_salesforces_clock_so_a_same_instant_edit_passes_the_gate():
    ours = NOW - dt.timedelta(minutes=5)         # Salesforce's LastModifiedDate of our write
    stamp = stamp_of_our_write(ours)
    assert gate_open(ours, stamp)                 # an edit stamped the same instant is considered
    assert not take_from_salesforce(Preference.TWO_WAY, salesforce_value="Ours", mirror_value="Ours",
                                    current_value="Ours", record_modified=ours, field_updated_at=stamp)
    assert take_from_salesforce(Preference.TWO_WAY, salesforce_value="Theirs", mirror_value="Ours",
                                current_value="Ours", record_modified=ours, field_updated_at=stamp)
    # ...and the push never sends the field again (not newer than the record).
    assert not push_to_salesforce(Preference.TWO_WAY, conversion_value="Ours", field_updated_at=stamp,
                                  salesforce_value="Theirs", record_modified=ours)


def record(**fields) -> PulledRecord:
    return PulledRecord(sobject="Lead", salesforce_id="00Q000000000001AAA", system_modstamp=NOW,
                        last_modified_date=NOW, is_deleted=False, master_record_id=None, account_id=None,
                        is_converted=False, converted_contact_id=None, converted_account_id=None, fields=fields)


def test_r5_the_mirror_after_our_write_is_applied_only_when_salesforce_says_what_conversion_holds():
    previous = {"FirstName": "Old", "Title": "CEO", "LastName": "L"}
    clean = mirror_after_write(written={"FirstName": "New"}, read_back=record(FirstName="New", Title="CEO", LastName="L"),
                               previous_fields=previous, previous_applied=previous, previous_pending=False,
                               expected_account_id=None)
    assert clean.applied and clean.applied_fields == {"FirstName": "New", "Title": "CEO", "LastName": "L"}
    # Another user changed the Title between our write and the read-back: pending, and Conversion
    # is known to hold the old Title, so the apply takes theirs.
    between = mirror_after_write(written={"FirstName": "New"},
                                 read_back=record(FirstName="New", Title="CFO", LastName="L"),
                                 previous_fields=previous, previous_applied=previous, previous_pending=False,
                                 expected_account_id=None)
    assert not between.applied and between.applied_fields["Title"] == "CEO" and between.fields["Title"] == "CFO"
    # A change still waiting to be applied is not swallowed either.
    waiting = mirror_after_write(written={"FirstName": "New"}, read_back=record(FirstName="New", Title="CEO", LastName="L"),
                                 previous_fields=previous, previous_applied={**previous, "Title": "CTO"},
                                 previous_pending=True, expected_account_id=None)
    assert not waiting.applied and waiting.applied_fields["Title"] == "CTO"
    # A create: fields Salesforce filled itself (a default) differ from what we sent.
    created = mirror_after_write(written={"LastName": "L"}, read_back=record(LastName="L", Title="Default"),
                                 previous_fields=None, previous_applied=None, previous_pending=False,
                                 expected_account_id=None)
    assert not created.applied and created.applied_fields == {"LastName": "L"}
