"""ContactApplier (sync/pull.py) on its own: which contact a pulled Lead or Contact updates, links
or creates (R3, R4), which company it joins (R6), and what a conversion (R7), a Salesforce merge
or a delete (R8) does to it. No database: the working set is built here, as the store would."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversion_sync.sync.fields import FieldMapping, Preference
from conversion_sync.sync.ids import to_18
from conversion_sync.sync.model import ContactState
from conversion_sync.sync.pull import CompanyRef, ContactApplier
from conversion_sync.sync.records import PulledRecord, from_api

UTC = dt.UTC
T0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
MINUTE = dt.timedelta(minutes=1)
P = Preference

MAPPINGS = (
    FieldMapping("email", {"Lead": "Email", "Contact": "Email"}, P.PREFER_SALESFORCE_UNLESS_EMPTY),
    FieldMapping("first_name", {"Lead": "FirstName", "Contact": "FirstName"}, P.PREFER_SALESFORCE_UNLESS_EMPTY),
    FieldMapping("title", {"Lead": "Title", "Contact": "Title"}, P.TWO_WAY),
)
ACCOUNT = to_18("001000000000001")
ACME = CompanyRef(key=70, name="Acme")


def lead_id(n: int) -> str:
    return to_18(f"00Q{n:012d}")


def contact_id(n: int) -> str:
    return to_18(f"003{n:012d}")


_API_NAMES = {"is_deleted": "IsDeleted", "master_record_id": "MasterRecordId", "is_converted": "IsConverted",
              "converted_contact_id": "ConvertedContactId", "converted_account_id": "ConvertedAccountId"}


def record(salesforce_id: str, email: str | None = None, *, at: dt.datetime = T0, **extra) -> PulledRecord:
    """A Lead or Contact as the API returns it, read the way the extract reads it."""
    sobject = "Lead" if salesforce_id.startswith("00Q") else "Contact"
    raw = {"Id": salesforce_id, "SystemModstamp": at, "LastModifiedDate": at, "Email": email,
           **{_API_NAMES.get(name, name): value for name, value in extra.items()}}
    return from_api(sobject, raw)


def contact(key: int, email: str | None, *, linked: str | None = None, updated: dt.datetime = T0 - 60 * MINUTE,
            **extra) -> ContactState:
    return ContactState(key=key, values={"email": email}, field_updated_at={"email": updated - MINUTE},
                        salesforce_id=linked, salesforce_object=("Lead" if linked and linked.startswith("00Q")
                                                                 else "Contact" if linked else None),
                        updated_at=updated, created_at=updated, **extra)


def apply(records, contacts, *, conversions=None, companies=None, contact_created=None):
    applier = ContactApplier(MAPPINGS, T0 + 10 * MINUTE)
    return applier.apply(list(records), list(contacts), conversions=conversions or {},
                         companies=companies or {}, contact_created=contact_created)


def linked(result, salesforce_id):
    """The contact key the result links to `salesforce_id` (a new contact has a negative key)."""
    keys = [c.key for c in result.contacts.values() if c.salesforce_id == salesforce_id and not c.removed]
    assert len(keys) <= 1, "one Salesforce record links to at most one contact (R4d)"
    return keys[0] if keys else None


# -- R4: matching ----------------------------------------------------------------------------------

def test_r4a_a_contact_linked_to_the_id_is_updated_even_when_another_has_the_email():
    result = apply([record(lead_id(1), "ann@example.com", FirstName="Ann")],
                   [contact(1, "other@example.com", linked=lead_id(1)), contact(2, "ann@example.com")])
    assert linked(result, lead_id(1)) == 1
    assert result.contacts[1].values == {"email": "ann@example.com", "first_name": "Ann"}
    assert 2 not in result.contacts and result.counts["linked_by_id"] == 1


@pytest.mark.parametrize("updated, expected", [
    ({1: T0 - 2 * MINUTE, 2: T0 - MINUTE, 3: T0 - 3 * MINUTE}, 2),      # the most recently updated
    ({1: T0 - MINUTE, 2: T0 - MINUTE, 3: T0 - MINUTE}, 1),              # a tie: the lowest id
    ({1: T0 - MINUTE, 2: T0 - 5 * MINUTE, 3: T0}, 3),
])
def test_r4b_the_most_recently_updated_unlinked_contact_with_the_email_is_linked(updated, expected):
    contacts = [contact(key, "ann@example.com", updated=at) for key, at in updated.items()]
    result = apply([record(lead_id(1), "ann@example.com")], contacts)
    assert linked(result, lead_id(1)) == expected
    assert result.counts["linked_by_email"] == 1 and result.counts["created"] == 0


@pytest.mark.parametrize("pulled", ["ANN@Example.COM", "  ann@example.com  ", "Ann@example.com"])
def test_r4b_emails_are_compared_trimmed_and_case_insensitively(pulled):
    result = apply([record(lead_id(1), pulled)], [contact(5, "ann@EXAMPLE.com")])
    assert linked(result, lead_id(1)) == 5


def test_r4b_a_contact_linked_to_a_different_record_is_never_a_candidate():
    result = apply([record(lead_id(1), "ann@example.com")],
                   [contact(1, "ann@example.com", linked=lead_id(9), updated=T0),
                    contact(2, "ann@example.com", updated=T0 - 30 * MINUTE)])
    assert linked(result, lead_id(1)) == 2 and 1 not in result.contacts


def test_r4c_a_new_contact_is_created_with_a_warning_when_every_email_match_is_linked_elsewhere():
    result = apply([record(lead_id(1), "ann@example.com", FirstName="Ann")],
                   [contact(1, "ann@example.com", linked=lead_id(8)), contact(2, "ann@example.com", linked=lead_id(9))])
    new = linked(result, lead_id(1))
    assert new is not None and new < 0 and result.contacts[new].values["first_name"] == "Ann"
    [warning] = result.warnings
    assert warning.kind == "duplicate_email" and sorted(warning.related_keys) == [1, 2]
    assert result.counts["created"] == 1


def test_r4c_a_new_contact_without_any_email_match_has_no_warning():
    result = apply([record(contact_id(1), "new@example.com")], [contact(1, "ann@example.com")])
    assert linked(result, contact_id(1)) < 0 and not result.warnings


@pytest.mark.parametrize("pulled, reason", [
    (record(lead_id(1), None), "skipped_no_email"),
    (record(lead_id(1), "   "), "skipped_no_email"),
    (record(lead_id(1), "ann@example.com", is_converted=True), "skipped_converted"),
])
def test_r3_a_record_without_email_or_a_converted_lead_creates_and_updates_nothing(pulled, reason):
    result = apply([pulled], [contact(1, "ann@example.com")])
    assert not result.contacts and result.counts[reason] == 1


def test_r4e_two_records_with_one_email_apply_in_systemmodstamp_order():
    """The earlier record takes the free contact; the later one, finding it linked, gets a new one."""
    first, second = lead_id(2), lead_id(1)          # Id order disagrees with SystemModstamp order
    result = apply([record(second, "ann@example.com", at=T0 + MINUTE), record(first, "ann@example.com", at=T0)],
                   [contact(1, "ann@example.com")])
    assert linked(result, first) == 1
    assert linked(result, second) < 0 and [w.kind for w in result.warnings] == ["duplicate_email"]


def test_r4e_a_later_record_sees_the_email_an_earlier_one_gave_its_contact():
    result = apply([record(lead_id(1), "new@example.com", at=T0), record(contact_id(2), "new@example.com", at=T0 + MINUTE)],
                   [contact(1, "old@example.com", linked=lead_id(1)), contact(2, "new@example.com", linked=lead_id(7))])
    assert linked(result, contact_id(2)) < 0         # both holders of the email are linked: a new one
    assert sorted(result.warnings[0].related_keys) == [1, 2]


_EMAILS = st.sampled_from(["ann@example.com", "ANN@example.com", "bob@example.com", None])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), _EMAILS, st.integers(0, 5)), min_size=1, max_size=8),
       st.lists(st.tuples(_EMAILS, st.booleans()), max_size=4), st.randoms())
def test_r4e_the_order_records_arrive_in_never_changes_who_is_linked(pulled, existing, rng):
    records = [record(lead_id(n), email, at=T0 + offset * MINUTE) for n, email, offset in pulled]
    records = list({r.salesforce_id: r for r in records}.values())       # one version per record

    def outcome(order):
        contacts = [contact(key, email, linked=lead_id(50 + key) if linked_ else None, updated=T0 - key * MINUTE)
                    for key, (email, linked_) in enumerate(existing, start=1)]
        result = apply(order, contacts)
        return {r.salesforce_id: linked(result, r.salesforce_id) for r in records}, result.counts

    shuffled = records[:]
    rng.shuffle(shuffled)
    assert outcome(records) == outcome(shuffled)


# -- R6: companies ---------------------------------------------------------------------------------

def test_r6_a_contact_joins_its_accounts_company_and_leaves_it_when_the_account_is_cleared():
    joined = apply([record(contact_id(1), "ann@example.com", AccountId=ACCOUNT)],
                   [contact(1, "ann@example.com", linked=contact_id(1))], companies={ACCOUNT: ACME})
    assert joined.contacts[1].company_id == ACME.key and joined.contacts[1].values["company_name"] == "Acme"
    left = apply([record(contact_id(1), "ann@example.com", AccountId=None)],
                 [contact(1, "ann@example.com", linked=contact_id(1), company_id=ACME.key)])
    assert left.contacts[1].company_id is None and left.counts["moved_company"] == 1


# -- R7: conversion --------------------------------------------------------------------------------

def converted(lead: str, into: str, *, at: dt.datetime = T0, account: str | None = ACCOUNT) -> PulledRecord:
    return record(lead, "ann@example.com", at=at, is_converted=True, converted_contact_id=into,
                  converted_account_id=account)


def test_r7_the_leads_contact_stays_the_same_and_relinks_to_the_new_contact_and_company():
    result = apply([converted(lead_id(1), contact_id(1))], [contact(1, "ann@example.com", linked=lead_id(1))],
                   companies={ACCOUNT: ACME})
    assert linked(result, contact_id(1)) == 1 and result.contacts[1].company_id == ACME.key
    assert not [c for c in result.contacts.values() if c.is_new]


def test_r7_the_contact_arriving_first_in_the_batch_still_relinks_the_leads_contact():
    result = apply([record(contact_id(1), "ann@example.com", at=T0)],
                   [contact(1, "ann@example.com", linked=lead_id(1))],
                   conversions={contact_id(1): lead_id(1)})
    assert linked(result, contact_id(1)) == 1 and result.counts["created"] == 0


@pytest.mark.parametrize("holder_change, created, folds", [
    ({}, T0, True),                                        # made by the sync for the converted Contact
    ({}, T0 - dt.timedelta(days=3), False),                # the Contact existed before the conversion
    ({"edited_in_conversion": True}, T0, False),           # holds Conversion edits
    ({"origin": "form"}, T0, False),                       # entered through a form
    ({"has_identifiers": True}, T0, False),
    ({}, None, False),                                     # creation unknown: never removed on a guess
])
def test_r7_a_second_contact_of_the_converted_contact_folds_only_when_the_sync_made_it_for_it(
        holder_change, created, folds):
    holder = contact(2, "ann@example.com", linked=contact_id(1), updated=T0 - MINUTE, **holder_change)
    holder.values["title"] = "CEO"
    holder.field_updated_at["title"] = T0 - MINUTE
    result = apply([converted(lead_id(1), contact_id(1))], [contact(1, "ann@example.com", linked=lead_id(1)), holder],
                   contact_created={contact_id(1): created} if created else None)
    if folds:
        assert linked(result, contact_id(1)) == 1 and result.contacts[2].removed
        assert result.contacts[1].values["title"] == "CEO"                     # newer values move over
        assert result.counts["folded"] == 1 and not result.warnings
    else:
        assert not result.contacts.get(2, holder).removed
        assert result.contacts.get(1) is None or result.contacts[1].salesforce_id == lead_id(1)
        assert [(w.kind, w.contact_key, w.related_keys) for w in result.warnings] == [("duplicate", 1, [2])]


# -- R8: deletes and merges ------------------------------------------------------------------------

def test_r8_a_deleted_record_unlinks_its_contact_and_keeps_it():
    result = apply([record(lead_id(1), "ann@example.com", is_deleted=True)],
                   [contact(1, "ann@example.com", linked=lead_id(1))])
    assert result.contacts[1].salesforce_id is None and not result.contacts[1].removed
    assert result.counts["unlinked"] == 1


@pytest.mark.parametrize("loser, master", [(lead_id(1), lead_id(2)), (contact_id(1), contact_id(2))])
def test_r8_a_record_merged_away_relinks_its_contact_to_the_master(loser, master):
    result = apply([record(loser, "ann@example.com", is_deleted=True, master_record_id=master)],
                   [contact(1, "ann@example.com", linked=loser)])
    assert linked(result, master) == 1 and linked(result, loser) is None


def test_r8_a_merge_into_a_record_another_contact_holds_makes_no_second_link_and_warns():
    result = apply([record(lead_id(1), "ann@example.com", is_deleted=True, master_record_id=lead_id(2))],
                   [contact(1, "ann@example.com", linked=lead_id(1)), contact(2, "bob@example.com", linked=lead_id(2))])
    holders = [c.key for c in result.contacts.values() if c.salesforce_id == lead_id(2)]
    assert 1 not in holders
    assert [(w.kind, w.contact_key, w.related_keys) for w in result.warnings] == [("duplicate", 1, [2])]


def test_a_record_with_a_bad_value_is_kept_pending_and_the_rest_of_the_batch_applies():
    result = apply([record(lead_id(1), "not an email"), record(lead_id(2), "bob@example.com", at=T0 + MINUTE)],
                   [contact(1, "bob@example.com")])
    assert lead_id(1) in result.failed and "email" in result.failed[lead_id(1)]
    assert linked(result, lead_id(2)) == 1 and result.applied == [lead_id(2)]

