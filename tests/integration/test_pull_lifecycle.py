"""R6 companies, R7 lead conversion, R8 deletes and merges, R9 audit, through the sandbox org."""

import datetime as dt

from sqlalchemy import insert

from conversion_sync.store.schema import contact_identifiers
from conversion_sync.sync.ids import to_18

UTC = dt.UTC


# -- R6 -----------------------------------------------------------------------------------------

def test_r6_each_account_is_a_company_and_contacts_follow_their_account(harness, org):
    acme = org.create("Account", {"Name": "Acme", "Website": "acme.example", "Industry": "Tools"})
    globex = org.create("Account", {"Name": "Globex"})
    person = org.create("Contact", {"LastName": "Ann", "Email": "ann@acme.example", "AccountId": acme})
    harness.pull()
    company = harness.company_of(acme)
    assert (company.name, company.website, company.industry) == ("Acme", "acme.example", "Tools")
    contact = harness.contact_of(person)
    assert contact.company_id == company.id and contact.company_name == "Acme"

    org.update("Contact", person, {"AccountId": globex})          # moves
    result = harness.pull()
    assert harness.contact_of(person).company_id == harness.company_of(globex).id
    assert result["contacts"]["moved_company"] == 1

    org.update("Contact", person, {"AccountId": None})            # cleared: link removed
    harness.pull()
    assert harness.contact_of(person).company_id is None
    assert len(harness.companies()) == 2


def test_r6_a_company_created_on_first_reference_gets_its_values(harness, org):
    """The Contact names an Account the mirror has not seen (it was not in the window)."""
    acme = org.create("Account", {"Name": "Acme"})
    harness.pull()
    org.update("Account", acme, {"Name": "Acme Corp"})
    person = org.create("Contact", {"LastName": "Ann", "Email": "ann@acme.example", "AccountId": acme})
    harness.pull()
    assert harness.contact_of(person).company_id == harness.company_of(acme).id
    assert harness.company_of(acme).name == "Acme Corp"


def test_r6_leads_carry_company_fields_without_a_company(harness, org):
    lead = org.create("Lead", {"LastName": "Lee", "Company": "Initech", "Email": "lee@initech.example"})
    harness.pull()
    contact = harness.contact_of(lead)
    assert contact.company_name == "Initech" and contact.company_id is None


# -- R7 -----------------------------------------------------------------------------------------

def _lead_with_contact(harness, org, email="conv@example.com"):
    lead = org.create("Lead", {"LastName": "Conv", "Company": "Conv Co", "Email": email})
    harness.pull()
    contact = harness.contact_of(lead)
    with harness.engine.begin() as conn:   # Conversion-only data that must survive the conversion
        conn.execute(insert(contact_identifiers).values(contact_id=contact.id, kind="user_id", value="u-1",
                                                        created_at=dt.datetime.now(UTC)))
    return lead, contact


def _assert_converted(harness, contact, result):
    after = harness.contact(contact.id)
    assert after.salesforce_id == to_18(result["contact_id"]) and after.salesforce_object == "Contact"
    assert after.company_id == harness.company_of(result["account_id"]).id
    assert len(harness.contacts()) == 1
    assert any(e.kind == "contact_relinked" and e.rule == "R7" for e in harness.events(contact.id))


def test_r7_conversion_in_one_cycle_keeps_the_same_contact(harness, org):
    lead, contact = _lead_with_contact(harness, org)
    result = org.convert_lead(lead)
    harness.pull()
    _assert_converted(harness, contact, result)


def test_r7_lead_arriving_before_its_contact_across_two_cycles(harness, org):
    lead, contact = _lead_with_contact(harness, org)
    result = org.convert_lead(lead)
    harness.pull(objects=("Account", "Lead"))       # this cycle sees only the Lead's change
    assert harness.contact(contact.id).salesforce_id == to_18(result["contact_id"])
    harness.pull()                                  # the Contact arrives: same contact, updated by id
    _assert_converted(harness, contact, result)


def test_r7_contact_arriving_before_its_lead_across_two_cycles(harness, org):
    lead, contact = _lead_with_contact(harness, org)
    result = org.convert_lead(lead)
    harness.pull(objects=("Account", "Contact"))    # the Contact first: found through its Lead
    harness.pull()
    _assert_converted(harness, contact, result)


def test_r7_contact_first_without_its_lead_is_folded_into_the_leads_contact(harness, org):
    """The Lead's email changed just before its conversion, so the mirror cannot tie the new
    Contact to its Lead: a contact is created for it, then folded into the Lead's contact when the
    conversion arrives (sound: the Contact came into being with that conversion)."""
    lead, contact = _lead_with_contact(harness, org)
    org.update("Lead", lead, {"Email": "conv.new@example.com"})
    result = org.convert_lead(lead)
    harness.pull(objects=("Account", "Contact"))
    assert len(harness.contacts()) == 2               # the Contact, not yet known as the Lead's
    harness.pull()
    _assert_converted(harness, contact, result)
    assert harness.contact(contact.id).email == "conv.new@example.com"
    assert any(e.kind == "contact_folded" for e in harness.events(contact.id))


def test_r7_a_contact_that_existed_before_the_conversion_is_never_folded(harness, org):
    """Issue 8, finding 7: the Contact existed before the Lead converted into it; its contact is
    kept even though the sync created it and it holds only Salesforce's data."""
    lead, contact = _lead_with_contact(harness, org)
    account = org.create("Account", {"Name": "Conv Co"})
    before = org.now() - dt.timedelta(hours=1)
    existing = org.seed("Contact", [{"LastName": "Conv", "Email": "conv@example.com", "AccountId": account,
                                     "CreatedDate": before, "LastModifiedDate": org.now()}])[0]
    harness.pull()
    holder = harness.contact_of(existing)
    org.convert_lead(lead, contact_id=existing, account_id=account)
    harness.pull()
    assert {c.id for c in harness.contacts()} == {contact.id, holder.id}
    assert harness.contact_of(existing).id == holder.id
    warning = [w for w in harness.warnings() if w.kind == "duplicate"][-1]
    assert warning.contact_id == contact.id and warning.related_contact_ids == [holder.id]
    assert not any(e.kind == "contact_folded" for e in harness.events())


def test_r7_no_second_link_when_the_contact_is_already_someone_elses(harness, org):
    lead, contact = _lead_with_contact(harness, org)
    existing = org.create("Contact", {"LastName": "Other", "Email": "other@example.com"})
    harness.pull()
    holder = harness.contact_of(existing)
    from conversion_sync.config import load_sync_settings
    from conversion_sync.store.editing import set_contact_field
    with harness.engine.begin() as conn:   # the holder has Conversion-side data: never folded
        set_contact_field(conn, load_sync_settings().custom_fields, holder.id, "title", "Buyer", now=dt.datetime.now(UTC))
    org.convert_lead(lead, contact_id=existing)
    harness.pull()
    assert harness.contact_of(existing).id == holder.id
    assert harness.contact(contact.id).salesforce_id == to_18(lead)
    warning = [w for w in harness.warnings() if w.kind == "duplicate"][-1]
    assert warning.contact_id == contact.id and warning.related_contact_ids == [holder.id]


# -- R8 -----------------------------------------------------------------------------------------

def test_r8_a_deleted_record_unlinks_its_contact_which_is_kept(harness, org):
    lead = org.create("Lead", {"LastName": "Gone", "Company": "X", "Email": "gone@example.com"})
    harness.pull()
    contact = harness.contact_of(lead)
    org.delete("Lead", lead)
    result = harness.pull()
    after = harness.contact(contact.id)
    assert after is not None and after.salesforce_id is None and after.email == "gone@example.com"
    assert result["contacts"]["unlinked"] == 1
    event = harness.events(contact.id)[-1]
    assert (event.kind, event.rule) == ("contact_unlinked", "R8") and "deleted" in event.detail

    org.undelete("Lead", lead)                     # back again: found by email, re-linked
    harness.pull()
    assert harness.contact(contact.id).salesforce_id == to_18(lead)


def test_r8_a_merged_away_record_relinks_its_contact_to_the_master(harness, org):
    master = org.create("Contact", {"LastName": "Keep", "Email": "keep@example.com"})
    loser = org.create("Contact", {"LastName": "Lose", "Email": "lose@example.com"})
    harness.pull()
    lose_contact, keep_contact = harness.contact_of(loser), harness.contact_of(master)
    org.merge("Contact", master, [loser])
    harness.pull()
    # Both Salesforce records had contacts: the loser's contact is unlinked and flagged to merge.
    assert harness.contact(lose_contact.id).salesforce_id is None
    assert harness.contact(keep_contact.id).salesforce_id == to_18(master)
    assert [w.kind for w in harness.warnings()] == ["duplicate"]


def test_r8_a_merge_into_an_unlinked_master_moves_the_link(harness, org):
    loser = org.create("Lead", {"LastName": "Lose", "Company": "X", "Email": "merge@example.com"})
    harness.pull()
    contact = harness.contact_of(loser)
    master = org.create("Lead", {"LastName": "Keep", "Company": "X"})     # no email: never synced
    org.merge("Lead", master, [loser])
    harness.pull()
    assert harness.contact(contact.id).salesforce_id == to_18(master)
    assert any(e.kind == "contact_relinked" and e.rule == "R8" for e in harness.events(contact.id))


def test_r8_a_deleted_account_unlinks_its_company(harness, org):
    acme = org.create("Account", {"Name": "Acme"})
    harness.pull()
    company = harness.company_of(acme)
    org.delete("Account", acme)
    harness.pull()
    assert harness.company_of(acme) is None
    assert [c.name for c in harness.companies()] == ["Acme"] and harness.companies()[0].id == company.id


# -- R9 -----------------------------------------------------------------------------------------

def test_r9_every_change_is_an_event_with_old_and_new_values_rule_and_run(harness, org):
    lead = org.create("Lead", {"LastName": "Lee", "Company": "X", "Email": "lee@example.com", "Title": "CEO"})
    harness.pull()
    org.update("Lead", lead, {"Title": "CTO"})
    harness.pull()
    contact = harness.contact_of(lead)
    events = harness.events(contact.id)
    assert [(e.kind, e.rule) for e in events] == [("contact_created", "R4c"), ("contact_updated", "R5")]
    assert events[0].changes["title"] == [None, "CEO"] and events[0].changes["email"] == [None, "lee@example.com"]
    assert events[-1].changes == {"title": ["CEO", "CTO"]}
    assert all(e.run_id == "test" and e.created_at is not None for e in events)
