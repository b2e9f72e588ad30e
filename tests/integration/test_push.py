"""P3-P6 and H2/H3 on the push side, through simple-salesforce against the sandbox org."""

import datetime as dt

import pytest
from sqlalchemy import select

from conversion_sync.config import load_sync_settings
from conversion_sync.errors import MergeRefused
from conversion_sync.store.editing import set_contact_field
from conversion_sync.store.identity import request_push
from conversion_sync.store.merge import merge_contacts
from conversion_sync.store.push import work_due_count
from conversion_sync.store.schema import contact_identifiers, sync_events
from conversion_sync.sync.ids import to_18

UTC = dt.UTC


def records_with_email(org, sobject, email):
    from simple_salesforce import format_soql

    return org.query(format_soql(f"SELECT Id, FirstName, LastName, Company, Title FROM {sobject} WHERE Email = {{}}"
                                 if sobject == "Lead" else
                                 f"SELECT Id, FirstName, LastName, Title FROM {sobject} WHERE Email = {{}}", email))


def edit(harness, contact_id, field, value):
    with harness.engine.begin() as conn:
        set_contact_field(conn, load_sync_settings().custom_fields, contact_id, field, value, now=dt.datetime.now(UTC))


# -- P1/P3: immediate, skipped, later ---------------------------------------------------------------

def test_an_immediate_contact_is_created_as_a_lead_and_a_skipped_one_waits(harness, org):
    now = harness.identify("now@example.com", traits={"first_name": "Nora", "last_name": "Now"}, sync="immediate")
    later = harness.identify("later@example.com", traits={"last_name": "Later"}, sync="skip")
    counts = harness.push()
    assert counts["created_in_salesforce"] == 1
    lead, = records_with_email(org, "Lead", "now@example.com")
    assert (lead["FirstName"], lead["LastName"], lead["Company"]) == ("Nora", "Now", "[not provided]")
    assert harness.contact(now.contact_id).salesforce_id == to_18(lead["Id"])
    assert records_with_email(org, "Lead", "later@example.com") == []
    assert harness.contact(later.contact_id).push_state == "skipped"
    # P3: pushed later, by id (the job from the UI, the CLI and the API all come here).
    with harness.engine.begin() as conn:
        assert request_push(conn, all_skipped=True) == [later.contact_id]
    harness.push()
    assert len(records_with_email(org, "Lead", "later@example.com")) == 1
    assert harness.contact(later.contact_id).push_state == "pushed"


def test_p4_links_to_an_existing_contact_first_then_a_lead_by_email_with_an_apostrophe(harness, org):
    email = "o'brien@example.com"
    lead = org.create("Lead", {"LastName": "O'Brien", "Company": "X", "Email": email})
    contact = org.create("Contact", {"LastName": "O'Brien", "Email": email})
    first = harness.identify(email, user_id="u-1", sync="immediate")
    counts = harness.push()
    assert counts["linked_in_salesforce"] == 1 and counts["created_in_salesforce"] == 0
    row = harness.contact(first.contact_id)
    assert (row.salesforce_id, row.salesforce_object) == (to_18(contact), "Contact")
    # A second person with that email (a conflicting user id): the Contact is taken, the Lead is free.
    second = harness.identify(email, user_id="u-2", sync="immediate")
    assert second.created
    assert harness.push()["linked_in_salesforce"] == 1
    assert harness.contact(second.contact_id).salesforce_id == to_18(lead)
    assert org.count("Lead") == 1 and org.count("Contact") == 1   # nothing created
    # A third finds nothing free: a new Lead.
    third = harness.identify(email, user_id="u-3", sync="immediate")
    assert harness.push()["created_in_salesforce"] == 1 and org.count("Lead") == 2
    assert harness.contact(third.contact_id).salesforce_object == "Lead"


def test_p4_a_lost_create_response_never_makes_a_second_record(harness, org):
    """With the org's external-id field: the create is an upsert, so the retry is harmless."""
    harness.identify("dropped@example.com", traits={"last_name": "Dropped"}, sync="immediate")
    org.inject_fault("drop_after_write", path="/composite/sobjects", times=1)
    counts = harness.push()
    assert len(records_with_email(org, "Lead", "dropped@example.com")) == 1
    assert counts["created_in_salesforce"] == 1


def test_p4_without_an_external_id_a_retry_looks_up_before_creating(harness, org, sync_config):
    sync_config("external_id_field: null\npush_retry_base_seconds: 0\n")
    entered = harness.identify("dropped@example.com", traits={"last_name": "Dropped"}, sync="immediate")
    org.inject_fault("drop_after_write", path="/composite/sobjects", times=1)
    first = harness.push()
    assert first["rejected"] == 1 and "looks Salesforce up by email" in harness.contact(entered.contact_id).push_error
    assert len(records_with_email(org, "Lead", "dropped@example.com")) == 1     # it was created...
    second = harness.push()
    assert second["linked_in_salesforce"] == 1 and second["created_in_salesforce"] == 0
    assert len(records_with_email(org, "Lead", "dropped@example.com")) == 1     # ...and only once
    assert harness.contact(entered.contact_id).push_error is None


def test_p5_a_rejected_record_keeps_its_error_and_the_rest_go_through(harness, org, sync_config):
    sync_config("push_retry_base_seconds: 0\nfields:\n  title: {salesforce: Title, preference: two_way}\n")
    ids = [org.create("Lead", {"LastName": f"L{i}", "Company": "X", "Email": f"l{i}@example.com"}) for i in range(3)]
    harness.pull()
    org.add_validation_rule("Lead", "Title", "^Forbidden", "Titles may not start with Forbidden")
    contacts = [harness.contact_of(i) for i in ids]
    edit(harness, contacts[0].id, "title", "CEO")
    edit(harness, contacts[1].id, "title", "Forbidden title")
    edit(harness, contacts[2].id, "title", "CTO")
    counts = harness.push()
    assert counts["updated_in_salesforce"] == 2 and counts["rejected"] == 1
    assert [org.get("Lead", i)["Title"] for i in ids] == ["CEO", None, "CTO"]
    failed = harness.contact(contacts[1].id)
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in failed.push_error and failed.push_attempts == 1
    assert [w.kind for w in harness.warnings()] == ["push_error"]
    # H2: retried; once fixed in Conversion it goes through and the warning is resolved.
    edit(harness, contacts[1].id, "title", "COO")
    harness.push()
    assert org.get("Lead", ids[1])["Title"] == "COO" and harness.contact(contacts[1].id).push_error is None
    assert harness.warnings()[-1].resolved_at is not None


def test_p5_push_preferences(harness, org, sync_config):
    sync_config("fields:\n"
                "  title: {salesforce: Title, preference: prefer_salesforce_unless_empty}\n"
                "  phone: {salesforce: Phone, preference: always_prefer_salesforce}\n"
                "  city: {salesforce: {Lead: City}, preference: always_prefer_conversion}\n"
                "  country: {salesforce: {Lead: Country}, preference: do_not_sync}\n")
    lead = org.create("Lead", {"LastName": "P", "Company": "X", "Email": "p@example.com", "Title": "CEO",
                               "City": "Paris"})
    harness.pull()
    contact = harness.contact_of(lead)
    for field, value in (("title", "Founder"), ("phone", "555"), ("city", "Oslo"), ("country", "NO")):
        edit(harness, contact.id, field, value)
    harness.push()
    record = org.get("Lead", lead)
    assert record["Title"] == "CEO"            # unless empty: Salesforce has a value
    assert record["Phone"] is None             # always prefer Salesforce: never pushed
    assert record["City"] == "Oslo"            # always prefer Conversion
    assert record["Country"] is None           # do not sync
    org.update("Lead", lead, {"Title": None})
    harness.pull()
    edit(harness, contact.id, "title", "Chair")
    harness.push()
    assert org.get("Lead", lead)["Title"] == "Chair"   # Salesforce's value is empty now


def test_no_echo_a_pull_after_a_push_changes_nothing_and_the_next_push_writes_nothing(harness, org, sync_config):
    sync_config("fields:\n  title: {salesforce: Title, preference: two_way}\n")
    lead = org.create("Lead", {"LastName": "E", "Company": "X", "Email": "echo@example.com", "Title": "CEO"})
    harness.pull()
    contact = harness.contact_of(lead)
    edit(harness, contact.id, "title", "Founder")
    assert harness.push()["updated_in_salesforce"] == 1
    events_before = len(harness.events(contact.id))
    pulled = harness.pull()
    assert pulled["Lead"]["pulled"] >= 1 and pulled["contacts"]["updated"] == 0
    assert len(harness.events(contact.id)) == events_before
    org.reset_counters()
    again = harness.push()
    assert again["updated_in_salesforce"] == 0 and again["created_in_salesforce"] == 0
    writes = {k: v for k, v in org.counters().items() if k.startswith(("collections_", "sobject_", "bulk_ingest"))}
    assert sum(writes.values()) == 0, writes
    assert harness.contact_of(lead).title == "Founder" and org.get("Lead", lead)["Title"] == "Founder"


def test_a_converted_lead_is_never_written(harness, org):
    lead = org.create("Lead", {"LastName": "C", "Company": "X", "Email": "c@example.com"})
    harness.pull()
    contact = harness.contact_of(lead)
    org.convert_lead(lead)
    harness.pull(objects=("Lead",))    # the mirror knows it is converted; the contact followed (R7)
    edit(harness, contact.id, "title", "CEO")
    counts = harness.push()
    assert counts["rejected"] == 0


def test_push_uses_batches_not_a_call_per_contact(harness, org):
    for i in range(450):
        harness.identify(f"bulk{i}@example.com", traits={"last_name": f"B{i}"}, sync="immediate")
    counts = harness.push()
    assert counts["created_in_salesforce"] == 450
    # limits + describe of Contact and Lead (once a day: the look-ups select only the fields the
    # org shows, R5) + 3 batches of 200 x (1 Contact look-up + 1 Lead look-up + 1 upsert
    # + 1 read-back of the created records' stamps, R5)
    assert counts["api_calls"] == 3 + 3 * 4, counts


def test_h3_the_push_stops_at_the_budget_and_resumes(harness, org):
    entered = harness.identify("budget@example.com", traits={"last_name": "B"}, sync="immediate")
    org.set_api_limit(100)
    org.set_api_usage(90)
    counts = harness.push()
    assert counts["stopped"] == 1 and counts["created_in_salesforce"] == 0
    waiting = harness.contact(entered.contact_id)
    assert waiting.push_state == "queued" and waiting.push_attempts == 0
    # H3 + H2: the work waits out a pause instead of a run every few seconds reading the limits.
    assert waiting.push_next_attempt_at > dt.datetime.now(UTC) + dt.timedelta(minutes=4)
    with harness.engine.connect() as conn:
        assert work_due_count(conn, dt.datetime.now(UTC)) == 0
    org.set_api_usage(0)
    assert harness.push(now=dt.datetime.now(UTC) + dt.timedelta(minutes=6))["created_in_salesforce"] == 1


# -- P6 ------------------------------------------------------------------------------------------------

def test_p6_merge_moves_identifiers_company_history_and_takes_newer_values(harness, org):
    acme = org.create("Account", {"Name": "Acme"})
    person = org.create("Contact", {"LastName": "Old", "Email": "keep@example.com", "AccountId": acme})
    harness.pull()
    keep = harness.contact_of(person)
    remove = harness.identify("remove@example.com", user_id="u-remove", cookie="c-remove",
                              traits={"last_name": "Newer", "title": "CTO"}, sync="skip")
    with harness.engine.begin() as conn:
        result = merge_contacts(conn, load_sync_settings().custom_fields, keep.id, remove.contact_id, now=dt.datetime.now(UTC))
    assert harness.contact(remove.contact_id) is None
    kept = harness.contact(keep.id)
    assert (kept.last_name, kept.title, kept.salesforce_id) == ("Newer", "CTO", to_18(person))
    assert kept.company_id == harness.company_of(acme).id
    with harness.engine.connect() as conn:
        held = conn.execute(select(contact_identifiers.c.value).where(contact_identifiers.c.contact_id == keep.id)).scalars().all()
        history = conn.execute(select(sync_events.c.kind).where(sync_events.c.contact_id == keep.id)).scalars().all()
    assert sorted(held) == ["c-remove", "u-remove"]
    assert "contact_merged" in history and history.count("contact_created") == 2
    assert set(result["changes"]) >= {"last_name", "title"}


def test_p6_merging_contacts_linked_to_different_records_is_refused(harness, org):
    a = org.create("Lead", {"LastName": "A", "Company": "X", "Email": "a@example.com"})
    b = org.create("Lead", {"LastName": "B", "Company": "X", "Email": "b@example.com"})
    harness.pull()
    with pytest.raises(MergeRefused, match="different Salesforce records"), harness.engine.begin() as conn:
        merge_contacts(conn, load_sync_settings().custom_fields, harness.contact_of(a).id, harness.contact_of(b).id,
                       now=dt.datetime.now(UTC))
    assert len(harness.contacts()) == 2       # atomic: nothing changed


def test_p6_a_merged_contact_takes_over_the_removed_ones_link(harness, org):
    lead = org.create("Lead", {"LastName": "L", "Company": "X", "Email": "l@example.com"})
    harness.pull()
    linked = harness.contact_of(lead)
    free = harness.identify("free@example.com", sync="skip")
    with harness.engine.begin() as conn:
        merge_contacts(conn, load_sync_settings().custom_fields, free.contact_id, linked.id, now=dt.datetime.now(UTC))
    assert harness.contact(free.contact_id).salesforce_id == to_18(lead)
    harness.pull()                      # the sync keeps updating the kept contact by id
    org.update("Lead", lead, {"Title": "VP"})
    harness.pull()
    assert harness.contact(free.contact_id).title == "VP" and len(harness.contacts()) == 1


def test_p5_a_locked_or_deleted_record_is_recorded_and_retried_the_rest_go_through(harness, org, sync_config):
    sync_config("push_retry_base_seconds: 0\nfields:\n  title: {salesforce: Title, preference: two_way}\n")
    ids = [org.create("Lead", {"LastName": f"L{i}", "Company": "X", "Email": f"k{i}@example.com"}) for i in range(3)]
    harness.pull()
    contacts = [harness.contact_of(i) for i in ids]
    for contact in contacts:
        edit(harness, contact.id, "title", "VP")
    org.lock_record(ids[0], times=1)          # another user holds the row
    org.delete("Lead", ids[1])                # deleted after the last pull
    counts = harness.push()
    assert counts["updated_in_salesforce"] == 1 and counts["rejected"] == 2
    assert "UNABLE_TO_LOCK_ROW" in harness.contact(contacts[0].id).push_error
    assert "ENTITY_IS_DELETED" in harness.contact(contacts[1].id).push_error
    harness.pull()                            # the delete arrives: the contact is unlinked (R8)
    again = harness.push()                    # the lock is gone: the retry goes through
    assert again["updated_in_salesforce"] == 1 and again["rejected"] == 0
    assert org.get("Lead", ids[0])["Title"] == "VP" and harness.contact(contacts[1].id).salesforce_id is None
