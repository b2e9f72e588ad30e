"""R5: every sync preference, the gate, the mirror compare, and updated_at = LastModifiedDate."""

import datetime as dt

from conversion_sync.config import load_sync_settings
from conversion_sync.store.editing import set_contact_field
from conversion_sync.sync.records import parse_datetime

UTC = dt.UTC


def edit_in_conversion(harness, contact_id, field, value):
    with harness.engine.begin() as conn:
        set_contact_field(conn, load_sync_settings().custom_fields, contact_id, field, value, now=dt.datetime.now(UTC))


def pulled_lead(harness, org, **fields):
    lead = org.create("Lead", {"LastName": "Lee", "Company": "Acme", "Email": "lee@example.com", **fields})
    harness.pull()
    return lead, harness.contact_of(lead)


def test_a_value_from_salesforce_carries_the_records_lastmodifieddate(harness, org):
    lead, contact = pulled_lead(harness, org, Title="CEO")
    modified = parse_datetime(org.get("Lead", lead)["LastModifiedDate"])
    assert contact.title == "CEO" and contact.title_updated_at == modified


def test_a_field_whose_value_does_not_change_keeps_its_updated_at(harness, org):
    lead, before = pulled_lead(harness, org, Title="CEO", Phone="111")
    org.update("Lead", lead, {"Phone": "222"})
    harness.pull()
    after = harness.contact_of(lead)
    assert after.phone == "222" and after.phone_updated_at > before.phone_updated_at
    assert after.title_updated_at == before.title_updated_at


def test_default_prefer_salesforce_unless_empty(harness, org):
    lead, _contact = pulled_lead(harness, org, Title="CEO")
    org.update("Lead", lead, {"Title": None})
    harness.pull()
    assert harness.contact_of(lead).title == "CEO"          # an empty Salesforce value is not taken
    org.update("Lead", lead, {"Title": "CTO"})
    harness.pull()
    assert harness.contact_of(lead).title == "CTO"


def test_always_prefer_salesforce_takes_empty_values_too(harness, org, sync_config):
    sync_config("fields:\n  title: {salesforce: Title, preference: always_prefer_salesforce}\n")
    lead, _contact = pulled_lead(harness, org, Title="CEO")
    org.update("Lead", lead, {"Title": None})
    harness.pull()
    assert harness.contact_of(lead).title is None


def test_always_prefer_conversion_never_overwrites(harness, org, sync_config):
    sync_config("fields:\n  title: {salesforce: Title, preference: always_prefer_conversion}\n")
    lead, contact = pulled_lead(harness, org, Title="CEO")
    assert contact.title is None                              # not even the first value
    edit_in_conversion(harness, contact.id, "title", "Founder")
    org.update("Lead", lead, {"Title": "CTO"})
    harness.pull()
    assert harness.contact_of(lead).title == "Founder"


def test_do_not_sync_ignores_the_field(harness, org, sync_config):
    sync_config("fields:\n  title: {salesforce: Title, preference: do_not_sync}\n")
    _lead, contact = pulled_lead(harness, org, Title="CEO")
    assert contact.title is None


def test_two_way_most_recent_wins_on_pull(harness, org, sync_config):
    sync_config("fields:\n  title: {salesforce: Title, preference: two_way}\n")
    lead, contact = pulled_lead(harness, org, Title="CEO")
    edit_in_conversion(harness, contact.id, "title", "Founder")   # newer than the record
    harness.pull()
    assert harness.contact_of(lead).title == "Founder"
    org.update("Lead", lead, {"Title": "CTO"})                    # newer than the edit
    harness.pull()
    assert harness.contact_of(lead).title == "CTO"


def test_the_gate_keeps_a_conversion_edit_newer_than_the_record(harness, org):
    lead, contact = pulled_lead(harness, org, Title="CEO")
    org.update("Lead", lead, {"Title": "CTO"})
    edit_in_conversion(harness, contact.id, "title", "Founder")   # after Salesforce's edit
    harness.pull()
    assert harness.contact_of(lead).title == "Founder"


def test_a_record_touched_for_another_field_never_reverts_a_conversion_edit(harness, org):
    """The commonest complaint about commercial syncs: values changing back."""
    lead, contact = pulled_lead(harness, org, Title="CEO", Phone="111")
    edit_in_conversion(harness, contact.id, "title", "Founder")
    org.update("Lead", lead, {"Phone": "222"})                    # LastModifiedDate now newer than the edit
    harness.pull()
    after = harness.contact_of(lead)
    assert after.title == "Founder" and after.phone == "222"


def test_custom_fields_map_to_salesforce_custom_fields(harness, org, sync_config):
    org.add_field("Lead", "Score__c", type="string")
    sync_config("custom_fields: [score]\nfields:\n  score: {salesforce: {Lead: Score__c}, preference: two_way}\n")
    _lead, contact = pulled_lead(harness, org, Score__c="42")
    assert harness.attribute(contact.id, "score") == "42"


def test_a_mapping_to_a_field_the_org_does_not_show_is_left_out_and_named(harness, org, sync_config):
    """R5: the org's describe does not show Title__c (no such field, or hidden by field-level
    security: Salesforce cannot tell the two apart); the rest syncs and one warning names it."""
    sync_config("fields:\n  title: {salesforce: Title__c}\n")
    lead = org.create("Lead", {"LastName": "Lee", "Company": "Acme", "Email": "lee@example.com"})
    result = harness.pull()
    assert harness.contact_of(lead).last_name == "Lee"
    hidden = [w for w in harness.warnings() if w.kind == "field_hidden"]
    assert [w.field for w in hidden] == ["Contact.Title__c", "Lead.Title__c"]
    assert "CONVERSION_SYNC_CONFIG" in hidden[0].message
    assert result["Lead"]["pulled"] == 1


def test_a_newly_added_mapping_is_backfilled_by_re_pulling(harness, org, sync_config):
    """R5: a mapping added later applies to records that did not change, once their days are
    re-pulled by a backfill."""
    org.add_field("Lead", "Score__c", type="string")
    sync_config("lookback_seconds: 0\n")
    _lead, contact = pulled_lead(harness, org, Score__c="42")
    sync_config("lookback_seconds: 0\ncustom_fields: [score]\nfields:\n  score: {salesforce: {Lead: Score__c}}\n")
    harness.pull()                                   # incremental: the record did not change
    assert harness.attribute(contact.id, "score") is None
    harness.backfill()                               # today's partition, re-pulled whole
    assert harness.attribute(contact.id, "score") == "42"


def test_a_read_only_salesforce_field_always_takes_salesforces_value_and_is_never_pushed(harness, org, sync_config):
    """R5: Lead.Name is a formula (read-only): whatever the mapping says, Salesforce wins."""
    sync_config("fields:\n  title: {salesforce: {Lead: Name}, preference: always_prefer_conversion}\n")
    lead, contact = pulled_lead(harness, org, FirstName="Ada")
    assert contact.title == "Ada Lee"                       # taken, despite always_prefer_conversion
    edit_in_conversion(harness, contact.id, "title", "Countess")
    assert harness.push()["updated_in_salesforce"] == 0     # never pushed
    assert org.get("Lead", lead)["Name"] == "Ada Lee"
    org.update("Lead", lead, {"FirstName": "Augusta"})
    harness.pull()
    assert harness.contact_of(lead).title == "Augusta Lee"
