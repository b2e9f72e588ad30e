"""R7: a Lead converted into a Contact, through the real sync job against the sandbox org, on
SQLite and PostgreSQL, in every arrival order (one cycle with the Contact or the Lead first in the
batch; two cycles with the Lead's or the Contact's change seen first).

Folding two contacts into one is sound only for a contact the sync created for a Contact that
came into being with that very conversion. A Contact that existed before (and so may carry, in
Conversion, email history and list memberships the sync cannot see) keeps its contact: no second
link, a `duplicate` warning naming both, both contacts kept.
"""

from __future__ import annotations

import datetime as dt

import pytest

from conversion_sync.sync.ids import to_18

UTC = dt.UTC
ORDERS = ["one_cycle", "one_cycle_lead_first", "two_cycles_lead_first", "two_cycles_contact_first"]


def _cycle(harness, sync_config, *, only: str | None = None):
    """One real sync cycle; `only` = "Lead" or "Contact" lets that cycle pull only that object's
    changes (the other side of the conversion arrives in the next cycle)."""
    if only == "Lead":
        sync_config("pull_contacts: false\n")
    elif only == "Contact":
        sync_config("pull_leads: false\n")
    else:
        sync_config("pull_leads: true\npull_contacts: true\n")
    return harness.cycle()


def _convert_and_sync(harness, org, sync_config, order: str, lead: str, contact_id: str | None = None) -> dict:
    result = org.convert_lead(lead, contact_id=contact_id)
    if order == "one_cycle_lead_first":
        # A later edit of the Contact puts it after the Lead in the batch's (SystemModstamp, Id) order.
        org.update("Contact", result["contact_id"], {"Title": "Buyer"})
    if order == "two_cycles_lead_first":
        _cycle(harness, sync_config, only="Lead")
    elif order == "two_cycles_contact_first":
        _cycle(harness, sync_config, only="Contact")
    _cycle(harness, sync_config)
    return result


def _kinds(harness, contact_id):
    return [e.kind for e in harness.events(contact_id)]


@pytest.mark.parametrize("order", ORDERS)
def test_r7_a_contact_created_by_the_conversion_ends_as_the_leads_contact(harness, org, sync_config, order):
    """The Lead's contact re-links to the new Contact and stays the only contact; where a contact
    had been created for the new Contact before the conversion was seen, it is folded in."""
    lead = org.create("Lead", {"LastName": "Nova", "Company": "Nova Co", "Email": "nova@example.com"})
    _cycle(harness, sync_config)
    contact = harness.contact_of(lead)
    result = _convert_and_sync(harness, org, sync_config, order, lead)

    assert [c.id for c in harness.contacts()] == [contact.id]
    after = harness.contact(contact.id)
    assert (after.salesforce_id, after.salesforce_object) == (to_18(result["contact_id"]), "Contact")
    assert after.company_id == harness.company_of(result["account_id"]).id
    assert not [w for w in harness.warnings() if w.kind == "duplicate"]
    if order == "two_cycles_contact_first":
        # The Contact came first without its Lead: the sync created a contact for it, and folds
        # it into the Lead's contact once the conversion is seen (sound: it came with the conversion).
        assert "contact_folded" in _kinds(harness, contact.id)
    else:
        assert "contact_relinked" in _kinds(harness, contact.id)


def _existing_contact(org, email="carla@example.com"):
    """A Contact created a day before the Lead's conversion (its CreatedDate says so) and
    edited now, so the incremental cycle sees it."""
    now = org.now()
    return org.seed("Contact", [{"LastName": "Carla", "Email": email, "CreatedDate": now - dt.timedelta(days=1),
                                 "LastModifiedDate": now, "SystemModstamp": now}])[0]


@pytest.mark.parametrize("order", ORDERS)
def test_r7_a_lead_converted_into_an_existing_contact_never_removes_its_contact(harness, org, sync_config, order):
    """Issue 8, finding 7: the existing Contact's contact holds only Salesforce's data as far as
    the sync can see, yet it is never folded away: no second link, a duplicate warning naming
    both contacts, both kept."""
    existing = _existing_contact(org)
    _cycle(harness, sync_config)
    holder = harness.contact_of(existing)
    lead = org.create("Lead", {"LastName": "Lee", "Company": "Lee Co", "Email": "lee@example.com"})
    _cycle(harness, sync_config)
    lead_contact = harness.contact_of(lead)
    _convert_and_sync(harness, org, sync_config, order, lead, contact_id=existing)

    assert sorted(c.id for c in harness.contacts()) == sorted([holder.id, lead_contact.id])
    assert harness.contact_of(existing).id == holder.id          # still the existing Contact's contact
    assert harness.contact(lead_contact.id).salesforce_id == to_18(lead)   # no second link to the Contact
    assert harness.contact(holder.id).email == "carla@example.com"
    duplicates = [w for w in harness.warnings() if w.kind == "duplicate"]
    assert len(duplicates) == 1
    warning = duplicates[0]
    assert (warning.contact_id, warning.related_contact_ids) == (lead_contact.id, [holder.id])
    assert f"contact {holder.id}" in warning.message and f"contact {lead_contact.id}" in warning.message
    assert "contact_folded" not in _kinds(harness, lead_contact.id) + _kinds(harness, holder.id)

    _cycle(harness, sync_config)                                  # settled: nothing more happens
    assert len(harness.contacts()) == 2
    assert len([w for w in harness.warnings() if w.kind == "duplicate"]) == 1
