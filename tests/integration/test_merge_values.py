"""R8/R7: a contact re-linked to another Salesforce record takes that record's values.

The soak found it (seed 941285): a Contact with an email was merged into a Contact without one;
the loser's contact re-linked to the master but kept the loser's names, title and phone for ever,
while Salesforce showed the master's. Two things held it: the master had been applied before (to
no contact, it has no email), so the three-way compare saw "nothing changed since last applied";
and a record without an email updated nothing, even the contact linked to it. Both record orders
in the batch matter (the merge stamps master and loser alike, the Id decides), so both are tested.
Real path: simple-salesforce over HTTPS against the sandbox org, SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from conversion_sync.sync.ids import to_18

MASTER = {"FirstName": "Aiko", "LastName": "Tanaka", "Title": "Engineering Manager", "Phone": "+1 555 301 3234"}
LOSER = {"FirstName": "Yuki", "LastName": "Rossi", "Title": "Procurement Officer", "Phone": "+1 555 393 6338",
         "Email": "yuki.rossi@example.com"}


def _values(contact) -> dict[str, str]:
    return {"FirstName": contact.first_name, "LastName": contact.last_name, "Title": contact.title,
            "Phone": contact.phone}


@pytest.mark.parametrize("first", ["master", "loser"])
def test_r8_a_contact_merged_into_a_master_without_email_takes_the_masters_values(harness, org, first):
    keep_account = org.create("Account", {"Name": "Keep Corp"})
    lose_account = org.create("Account", {"Name": "Lose Corp"})
    # Record ids grow with creation, and the merge stamps both records alike: the first created
    # is applied first.
    if first == "master":
        master = org.create("Contact", {**MASTER, "AccountId": keep_account})
        loser = org.create("Contact", {**LOSER, "AccountId": lose_account})
    else:
        loser = org.create("Contact", {**LOSER, "AccountId": lose_account})
        master = org.create("Contact", {**MASTER, "AccountId": keep_account})
    harness.pull()                      # the master is mirrored (and applied to no contact)
    contact = harness.contact_of(loser)
    assert _values(contact) == {k: LOSER[k] for k in MASTER}

    org.merge("Contact", master, [loser])
    harness.pull()
    after = harness.contact(contact.id)
    assert after.salesforce_id == to_18(master)
    assert _values(after) == MASTER, "the contact keeps the merged-away record's values"
    assert after.email == LOSER["Email"]                 # an empty Salesforce email takes nothing
    assert after.company_id == harness.company_of(keep_account).id
    assert any(e.kind == "contact_updated" and to_18(master) in e.detail for e in harness.events(contact.id))

    # Later edits of the master (it still has no email) reach its contact, and nothing echoes.
    org.update("Contact", master, {"Title": "CTO"})
    harness.pull()
    assert harness.contact(contact.id).title == "CTO"
    pushed = harness.push()
    assert pushed["updated_in_salesforce"] == 0 and pushed["created_in_salesforce"] == 0
    assert org.get("Contact", master)["Title"] == "CTO"


def test_r8_a_merge_in_the_cycle_the_master_is_created_takes_its_values_too(harness, org):
    loser = org.create("Contact", LOSER)
    harness.pull()
    contact = harness.contact_of(loser)
    master = org.create("Contact", MASTER)              # never pulled before the merge
    org.merge("Contact", master, [loser])
    harness.pull()
    assert harness.contact(contact.id).salesforce_id == to_18(master)
    assert _values(harness.contact(contact.id)) == MASTER


def test_r8_a_conversion_edit_newer_than_the_merge_is_kept_and_pushed_to_the_master(harness, org, sync_config):
    from conversion_sync import api

    sync_config("fields:\n  title: {salesforce: Title, preference: two_way}\n")

    master = org.create("Contact", MASTER)
    loser = org.create("Contact", LOSER)
    harness.pull()
    contact = harness.contact_of(loser)
    org.merge("Contact", master, [loser])
    harness.pull()
    api.set_field(contact.id, "title", "Head of Buying")       # after the merge
    harness.pull()                                                        # the lookback re-pulls
    assert harness.contact(contact.id).title == "Head of Buying"
    harness.push()
    assert org.get("Contact", master)["Title"] == "Head of Buying"
    assert _values(harness.contact(contact.id)) == {**MASTER, "Title": "Head of Buying"}


@pytest.mark.parametrize("first", ["contact", "lead"])
def test_r7_a_lead_converted_into_an_existing_contact_without_email_takes_its_values(harness, org, first):
    existing = {"FirstName": "Aiko", "LastName": "Tanaka", "Title": "Engineering Manager"}
    if first == "contact":
        target = org.create("Contact", existing)
        lead = org.create("Lead", {**LOSER, "Company": "X"})
    else:
        lead = org.create("Lead", {**LOSER, "Company": "X"})
        target = org.create("Contact", existing)
    harness.pull()                      # the Contact is mirrored (no email: no contact)
    contact = harness.contact_of(lead)
    org.convert_lead(lead, contact_id=target)    # fills the Contact's empty Email and Phone
    harness.pull()
    after = harness.contact(contact.id)
    assert after.salesforce_id == to_18(target)
    assert _values(after) == {**existing, "Phone": LOSER["Phone"]}
    assert _values(after) == {k: org.get("Contact", target)[k] for k in MASTER}
