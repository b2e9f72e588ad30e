"""The pure push rules (sync/push.py): which contacts have work due (H2), what a new Salesforce
record gets and which Account a new Contact joins (P4), the clock of our own writes and the
mirror after one (R5)."""

import datetime as dt

import pytest

from conversion_sync.sync.fields import FieldMapping, Preference, gate_open, push_to_salesforce, take_from_salesforce
from conversion_sync.sync.ids import to_18
from conversion_sync.sync.model import ContactState
from conversion_sync.sync.push import (
    NOT_PROVIDED,
    accounts_by_domain,
    mirror_after_write,
    new_record,
    object_of_link,
    pick_unclaimed,
    push_due,
    rejection_code,
    stamp_of_our_write,
)
from conversion_sync.sync.records import PulledRecord

UTC = dt.UTC
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


# -- P4: what a new Salesforce record gets --------------------------------------------------------

P = Preference
MAPPINGS = (
    FieldMapping("email", {"Lead": "Email", "Contact": "Email"}, P.PREFER_SALESFORCE_UNLESS_EMPTY),
    FieldMapping("last_name", {"Lead": "LastName", "Contact": "LastName"}, P.PREFER_SALESFORCE_UNLESS_EMPTY),
    FieldMapping("title", {"Lead": "Title", "Contact": "Title"}, P.TWO_WAY),
    FieldMapping("phone", {"Lead": "Phone", "Contact": "MobilePhone"}, P.ALWAYS_PREFER_SALESFORCE),
    FieldMapping("city", {"Lead": "City", "Contact": "MailingCity"}, P.DO_NOT_SYNC),
    FieldMapping("company_name", {"Lead": "Company"}, P.PREFER_SALESFORCE_UNLESS_EMPTY),
)
EVERY_FIELD = {"Email", "LastName", "Title", "Phone", "MobilePhone", "City", "MailingCity", "Company"}
ACCOUNT = to_18("001000000000001")


def entered(**values) -> ContactState:
    return ContactState(key=42, values={"email": "ann@acme.com", **values})


@pytest.mark.parametrize("sobject, values, createable, expected", [
    # Required fields Conversion has no value for get "[not provided]".
    ("Lead", {}, EVERY_FIELD, {"Email": "ann@acme.com", "LastName": NOT_PROVIDED, "Company": NOT_PROVIDED}),
    ("Lead", {"last_name": "Lee", "company_name": "Acme", "title": "CEO"}, EVERY_FIELD,
     {"Email": "ann@acme.com", "LastName": "Lee", "Company": "Acme", "Title": "CEO"}),
    # Salesforce-owned and unsynced fields never go out, not even on create.
    ("Lead", {"phone": "555", "city": "Oslo"}, EVERY_FIELD,
     {"Email": "ann@acme.com", "LastName": NOT_PROVIDED, "Company": NOT_PROVIDED}),
    # A field the org hides or will not let a create set is left out.
    ("Contact", {"title": "CEO", "last_name": "Lee"}, EVERY_FIELD - {"Title"},
     {"Email": "ann@acme.com", "LastName": "Lee"}),
    # A Contact has no Company field.
    ("Contact", {"company_name": "Acme"}, EVERY_FIELD, {"Email": "ann@acme.com", "LastName": NOT_PROVIDED}),
])
def test_p4_a_new_record_gets_what_conversion_may_send_and_salesforces_required_fields(
        sobject, values, createable, expected):
    record = new_record(entered(**values), sobject, MAPPINGS, createable=createable)
    assert record.pop("attributes") == {"type": sobject}
    assert record == expected


def test_p4_a_retry_safe_create_carries_the_contact_id_in_the_external_id_field():
    record = new_record(entered(), "Lead", MAPPINGS, createable=EVERY_FIELD, external_id_field="Conversion_Id__c")
    assert record["Conversion_Id__c"] == "42"


@pytest.mark.parametrize("email, websites, account", [
    ("ann@acme.com", [("https://www.acme.com/about", ACCOUNT)], ACCOUNT),
    ("Ann@ACME.com", [("acme.com", ACCOUNT)], ACCOUNT),
    ("ann@acme.com", [("http://ACME.COM", ACCOUNT), ("acme.com", to_18("001000000000002"))], ACCOUNT),
    ("ann@sub.acme.com", [("acme.com", ACCOUNT)], None),             # a domain is matched whole
    ("ann@other.com", [("acme.com", ACCOUNT)], None),
])
def test_p4_a_new_contact_joins_the_account_whose_website_has_its_emails_domain(email, websites, account):
    record = new_record(entered(email=email), "Contact", MAPPINGS, createable=EVERY_FIELD,
                        accounts=accounts_by_domain(websites))
    assert record.get("AccountId") == account
    lead = new_record(entered(email=email), "Lead", MAPPINGS, createable=EVERY_FIELD,
                      accounts=accounts_by_domain(websites))
    assert "AccountId" not in lead                                    # a Lead has no Account


@pytest.mark.parametrize("salesforce_id, sobject", [
    (to_18("00Q000000000001"), "Lead"), (to_18("003000000000001"), "Contact"), ("00Qabc", "Lead")])
def test_p4_a_links_object_is_told_by_its_key_prefix(salesforce_id, sobject):
    assert object_of_link(salesforce_id) == sobject


def test_p4_a_look_up_links_the_first_record_no_other_contact_holds():
    found = [record(), PulledRecord(sobject="Lead", salesforce_id="00Q000000000002AAA", system_modstamp=NOW,
                                    last_modified_date=NOW)]
    assert pick_unclaimed(found, set()).salesforce_id == "00Q000000000001AAA"
    assert pick_unclaimed(found, {"00Q000000000001AAA"}).salesforce_id == "00Q000000000002AAA"
    assert pick_unclaimed(found, {r.salesforce_id for r in found}) is None


@pytest.mark.parametrize("error, code", [
    ("UNABLE_TO_LOCK_ROW: unable to obtain exclusive access", "UNABLE_TO_LOCK_ROW"),
    ("  FIELD_CUSTOM_VALIDATION_EXCEPTION : Phone is required", "FIELD_CUSTOM_VALIDATION_EXCEPTION"),
    ("no answer to the create", "other"), ("", "other")])
def test_h1_rejections_are_counted_by_salesforces_error_code(error, code):
    assert rejection_code(error) == code
