"""R3 and R4 through simple-salesforce against the sandbox org, on SQLite and PostgreSQL."""

import datetime as dt

from sqlalchemy import insert

from conversion_sync.store.schema import contacts, sync_watermarks
from conversion_sync.sync.ids import to_18

UTC = dt.UTC


def add_conversion_contact(harness, email, *, updated_at=None, salesforce_id=None, first_name=None):
    """A contact that entered Conversion on its own (a form), not from Salesforce."""
    now = updated_at or dt.datetime.now(UTC)
    with harness.engine.begin() as conn:
        return conn.execute(insert(contacts).values(
            email=email, email_key=email.strip().lower(), first_name=first_name, origin="form",
            salesforce_sync="skip", salesforce_id=salesforce_id, created_at=now, updated_at=now)
            .returning(contacts.c.id)).scalar()


def test_r3_records_without_email_and_converted_leads_create_no_contact(harness, org):
    org.create("Lead", {"LastName": "Null", "Company": "X"})
    org.seed("Lead", [{"LastName": "Blank", "Company": "X", "Email": "   "}])  # seeded: the API refuses it
    org.create("Contact", {"LastName": "NoMail"})
    converted = org.create("Lead", {"LastName": "Conv", "Company": "X", "Email": "conv@example.com"})
    org.convert_lead(converted)
    result = harness.pull()
    # The converted Lead's Contact gets a contact; the converted Lead itself creates none.
    assert [c.email for c in harness.contacts()] == ["conv@example.com"]
    assert harness.contacts()[0].salesforce_object == "Contact"
    assert result["contacts"]["skipped_no_email"] == 3
    assert result["contacts"]["skipped_converted"] == 1


def test_r4a_a_linked_contact_is_updated_by_id_even_when_its_email_changes(harness, org):
    lead = org.create("Lead", {"LastName": "A", "Company": "X", "Email": "first@example.com"})
    harness.pull()
    other = add_conversion_contact(harness, "second@example.com")
    org.update("Lead", lead, {"Email": "second@example.com"})
    result = harness.pull()
    contact = harness.contact_of(lead)
    assert contact.email == "second@example.com" and contact.id != other
    assert result["contacts"]["linked_by_id"] == 1 and result["contacts"]["created"] == 0


def test_r4b_email_match_ignores_case_and_spaces_and_links_the_contact(harness, org):
    existing = add_conversion_contact(harness, "ann@example.com")
    lead = org.create("Lead", {"LastName": "Lee", "Company": "X", "Email": "  ANN@Example.COM "})
    result = harness.pull()
    assert result["contacts"]["linked_by_email"] == 1 and result["contacts"]["created"] == 0
    contact = harness.contact(existing)
    assert contact.salesforce_id == to_18(lead) and contact.salesforce_object == "Lead"
    assert contact.last_name == "Lee"
    assert [e.rule for e in harness.events(existing)][:1] == ["R4b"]


def test_r4b_the_most_recently_updated_candidate_wins_ties_to_the_lowest_id(harness, org):
    old = dt.datetime(2025, 1, 1, tzinfo=UTC)
    recent = dt.datetime(2026, 1, 1, tzinfo=UTC)
    a = add_conversion_contact(harness, "dup@example.com", updated_at=old)
    b = add_conversion_contact(harness, "dup@example.com", updated_at=recent)
    c = add_conversion_contact(harness, "dup@example.com", updated_at=recent)
    lead = org.create("Lead", {"LastName": "Dup", "Company": "X", "Email": "dup@example.com"})
    harness.pull()
    assert harness.contact_of(lead).id == b
    assert harness.contact(a).salesforce_id is None and harness.contact(c).salesforce_id is None


def test_r4b_a_contact_linked_to_another_record_is_not_a_candidate(harness, org):
    first = org.create("Contact", {"LastName": "One", "Email": "shared@example.com"})
    harness.pull()
    second = org.create("Contact", {"LastName": "Two", "Email": "Shared@Example.com"})
    result = harness.pull()
    one, two = harness.contact_of(first), harness.contact_of(second)
    assert one.id != two.id
    assert result["contacts"]["created"] == 1
    warning, = harness.warnings()
    assert warning.kind == "duplicate_email" and warning.contact_id == two.id
    assert warning.related_contact_ids == [one.id] and f"contact {one.id}" in warning.message


def test_r4c_duplicate_emails_are_allowed_and_each_record_keeps_its_own_contact(harness, org):
    ids = [org.create("Lead", {"LastName": f"L{i}", "Company": "X", "Email": "same@example.com"}) for i in range(3)]
    harness.pull()
    linked = {c.salesforce_id for c in harness.contacts()}
    assert linked == {to_18(i) for i in ids}
    assert len(harness.warnings()) == 2   # the second and third each name the ones before


def test_r4e_records_of_one_batch_apply_in_systemmodstamp_order(harness, org):
    """A free contact with the email goes to the first record (by SystemModstamp); the second
    record, whose email now only matches a contact linked elsewhere, gets its own contact."""
    free = add_conversion_contact(harness, "order@example.com")
    first = org.create("Contact", {"LastName": "First", "Email": "order@example.com"})
    second = org.create("Lead", {"LastName": "Second", "Company": "X", "Email": "order@example.com"})
    harness.pull()
    assert harness.contact_of(first).id == free
    assert harness.contact_of(second).id != free
    assert [w.kind for w in harness.warnings()] == ["duplicate_email"]


def test_r4d_one_record_one_contact_and_ids_stored_in_18_characters(harness, org):
    lead = org.create("Lead", {"LastName": "A", "Company": "X", "Email": "a@example.com"})
    harness.pull()
    org.update("Lead", lead, {"Title": "CEO"})
    harness.pull()
    rows = harness.contacts()
    assert len(rows) == 1 and len(rows[0].salesforce_id) == 18 and rows[0].title == "CEO"


def test_r2_repulling_applied_records_changes_nothing(harness, org):
    for i in range(5):
        org.create("Lead", {"LastName": f"L{i}", "Company": "X", "Email": f"l{i}@example.com"})
    harness.pull()
    before = harness.snapshot()
    with harness.engine.begin() as conn:   # forget the watermarks: the next window re-reads everything
        conn.execute(sync_watermarks.delete())
    result = harness.pull()
    assert result["Lead"]["pulled"] == 5 and result["Lead"]["unchanged"] == 5
    assert result["contacts"]["applied"] == 0
    assert harness.snapshot() == before
