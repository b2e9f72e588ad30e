"""R5/P5: the push gate is per field. A Conversion edit of one field is pushed even when a
Salesforce user edits a different field of the same record before the next push, whatever the
org's clock says against ours; a Salesforce edit of the same field made later still wins."""

from __future__ import annotations

import datetime as dt

import pytest

from conversion_sync.config import load_sync_settings
from conversion_sync.store.editing import set_contact_field
from tests.integration.test_push_clock import our_clock, writes  # noqa: F401 (fixture)

UTC = dt.UTC
SKEWS = [0, 5, 300]          # the org's clock ahead of ours, in seconds


def _config(sync_config, title_preference: str) -> None:
    sync_config("fields:\n"
                f"  title: {{salesforce: Title, preference: {title_preference}}}\n"
                "  phone: {salesforce: Phone, preference: two_way}\n")


def _synced_lead(harness, org, our_clock, skew):
    org.advance_clock(skew)
    lead_id = org.create("Lead", {"LastName": "L", "Company": "X", "Email": "gate@example.com",
                                  "Title": "A", "Phone": "1"})
    our_clock.catch_up(skew)
    harness.cycle()
    contact = harness.contact_of(lead_id)
    assert contact.phone == "1"
    return lead_id, contact.id


def _edit(harness, contact_id, field, value):
    """A user edits the contact in Conversion, on our real clock (inside the skew)."""
    with harness.engine.begin() as conn:
        assert set_contact_field(conn, load_sync_settings().custom_fields, contact_id, field, value, now=dt.datetime.now(UTC))


def _silent(harness, org):
    org.reset_counters()
    harness.cycle()
    assert writes(org) == {}           # no echo of our write


@pytest.mark.parametrize("preference", ["two_way", "always_prefer_conversion"])
@pytest.mark.parametrize("skew", SKEWS)
def test_r5_p5_a_conversion_edit_is_pushed_after_salesforce_edits_another_field(
        harness, org, sync_config, our_clock, skew, preference):
    _config(sync_config, preference)
    lead_id, contact_id = _synced_lead(harness, org, our_clock, skew)
    _edit(harness, contact_id, "title", "B")
    org.update("Lead", lead_id, {"Phone": "2"})      # someone else edits a different field
    harness.cycle()
    harness.cycle()
    assert org.get("Lead", lead_id)["Title"] == "B"
    assert org.get("Lead", lead_id)["Phone"] == "2"
    row = harness.contact(contact_id)
    assert (row.title, row.phone) == ("B", "2")
    _silent(harness, org)
    assert (org.get("Lead", lead_id)["Title"], harness.contact(contact_id).title) == ("B", "B")


@pytest.mark.parametrize("skew", SKEWS)
def test_r5_p5_a_conversion_edit_made_within_the_skew_is_pushed(harness, org, sync_config, our_clock, skew):
    _config(sync_config, "two_way")
    lead_id, contact_id = _synced_lead(harness, org, our_clock, skew)
    _edit(harness, contact_id, "title", "B")
    harness.cycle()
    assert org.get("Lead", lead_id)["Title"] == "B"
    _silent(harness, org)


@pytest.mark.parametrize("skew", SKEWS)
def test_r5_a_later_salesforce_edit_of_the_same_field_wins(harness, org, sync_config, our_clock, skew):
    _config(sync_config, "two_way")
    lead_id, contact_id = _synced_lead(harness, org, our_clock, skew)
    _edit(harness, contact_id, "title", "B")
    org.update("Lead", lead_id, {"Title": "C"})      # later, on the org's clock
    harness.cycle()
    harness.cycle()
    assert org.get("Lead", lead_id)["Title"] == "C"
    assert harness.contact(contact_id).title == "C"
    _silent(harness, org)


@pytest.mark.parametrize("page", [2, 5_000], ids=["pages of 2", "one page"])
def test_p5_edits_of_many_linked_contacts_all_go_out_a_page_at_a_time(harness, org, sync_config, our_clock,
                                                                       monkeypatch, page):
    """Issue 10: the push looks at linked contacts a page at a time (memory flat after a first
    sync that linked many): every edit goes out whichever page its contact falls in, the
    contacts with nothing to send are reconciled on every page, and the next cycle is silent."""
    from conversion_sync.service import push as push_service

    monkeypatch.setattr(push_service, "CANDIDATE_PAGE", page)
    _config(sync_config, "two_way")
    lead_ids = [org.create("Lead", {"LastName": f"L{i}", "Company": "X", "Email": f"page{i}@example.com",
                                    "Title": "A", "Phone": "1"}) for i in range(7)]
    harness.cycle()
    contact_ids = [harness.contact_of(lead_id).id for lead_id in lead_ids]
    edited = {lead_ids[i]: contact_ids[i] for i in (0, 3, 4, 6)}
    for lead_id, contact_id in edited.items():
        _edit(harness, contact_id, "title", f"B{lead_id[-4:]}")
    for i in (1, 2, 5):              # edited, then back to the value Salesforce holds: nothing to send
        _edit(harness, contact_ids[i], "title", "Z")
        _edit(harness, contact_ids[i], "title", "A")
    org.reset_counters()
    harness.cycle()
    assert {lead_id: org.get("Lead", lead_id)["Title"] for lead_id in lead_ids} == {
        lead_id: (f"B{lead_id[-4:]}" if lead_id in edited else "A") for lead_id in lead_ids}
    assert sum(writes(org).values()) == 1      # one Collections update carried all four
    _silent(harness, org)
