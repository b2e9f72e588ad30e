"""IdentityResolver (sync/identity.py) on its own: which contact an entering contact (a form, a CSV
row, the API) becomes (P2), what it records, and whether it goes to Salesforce (P1)."""

import datetime as dt

import pytest

from conversion_sync.sync.fields import CONTACT_FIELDS
from conversion_sync.sync.identity import Entry, EntryError, IdentityResolver
from conversion_sync.sync.ids import to_18
from conversion_sync.sync.model import ContactState

UTC = dt.UTC
T0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
MINUTE = dt.timedelta(minutes=1)
LEAD = to_18("00Q000000000001")
OTHER_LEAD = to_18("00Q000000000002")


def contact(key, email=None, *, linked=None, updated=T0 - 60 * MINUTE):
    return ContactState(key=key, values={"email": email}, salesforce_id=linked,
                        salesforce_object="Lead" if linked else None, updated_at=updated, created_at=updated)


def resolver(contacts=(), identifiers=None, *, default_sync="skip"):
    return IdentityResolver(list(contacts), dict(identifiers or {}), now=T0, default_sync=default_sync,
                            contact_fields=CONTACT_FIELDS)


# A working set in which every strong identifier and the email name a different contact.
def everyone():
    return [contact(1, linked=LEAD), contact(2), contact(3), contact(4, "ann@example.com")]
HELD = {("user_id", "u-1"): 2, ("cookie", "c-1"): 3}


@pytest.mark.parametrize("entry, expected, matched_by", [
    (Entry(email="ann@example.com", user_id="u-1", cookie="c-1", salesforce_id=LEAD), 1, "salesforce_id"),
    (Entry(email="ann@example.com", user_id="u-1", cookie="c-1", salesforce_id=LEAD[:15]), 1, "salesforce_id"),
    (Entry(email="ann@example.com", user_id="u-1", cookie="c-1"), 2, "user_id"),
    (Entry(email="ann@example.com", cookie="c-1"), 3, "cookie"),
    (Entry(email="ann@example.com"), 4, "email"),
    (Entry(email="  ANN@Example.com "), 4, "email"),
    (Entry(email="new@example.com"), None, "new"),
])
def test_p2_strong_identifiers_come_first_then_email_then_a_new_contact(entry, expected, matched_by):
    outcome = resolver(everyone(), HELD).resolve(entry)
    assert outcome.matched_by == matched_by
    assert outcome.created is (expected is None)
    if expected is not None:
        assert outcome.contact_key == expected


@pytest.mark.parametrize("updated, expected", [
    ({5: T0 - 2 * MINUTE, 6: T0 - MINUTE}, 6),
    ({5: T0 - MINUTE, 6: T0 - 2 * MINUTE}, 5),
    ({5: T0 - MINUTE, 6: T0 - MINUTE}, 5),              # a tie: the lowest id
])
def test_p2_the_most_recently_updated_contact_with_the_email_is_chosen(updated, expected):
    contacts = [contact(key, "ann@example.com", updated=at) for key, at in updated.items()]
    assert resolver(contacts).resolve(Entry(email="ann@example.com")).contact_key == expected


@pytest.mark.parametrize("entry, conflicting", [
    (Entry(email="ann@example.com", user_id="u-2"), "a user_id"),         # it already holds u-1
    (Entry(email="ann@example.com", salesforce_id=OTHER_LEAD), "a Salesforce id"),
])
def test_p2_an_email_match_holding_a_conflicting_identifier_gives_a_new_contact_and_a_warning(entry, conflicting):
    r = resolver([contact(7, "ann@example.com", linked=LEAD)], {("user_id", "u-1"): 7})
    outcome = r.resolve(entry)
    assert outcome.created, f"{conflicting} of another value conflicts"
    [warning] = r.result.warnings
    assert warning.kind == "duplicate_email" and warning.related_keys == [7]


def test_p2_a_second_cookie_is_no_conflict_the_contact_gains_it():
    r = resolver([contact(7, "ann@example.com")], {("cookie", "c-1"): 7})
    outcome = r.resolve(Entry(email="ann@example.com", cookie="c-2"))
    assert (outcome.contact_key, outcome.created, outcome.new_identifiers) == (7, False, [("cookie", "c-2")])


def test_p2_later_rows_of_one_file_find_the_contacts_earlier_rows_created():
    r = resolver()
    first = r.resolve(Entry(email="ann@example.com", user_id="u-9", source="csv"))
    by_email = r.resolve(Entry(email="ANN@example.com", traits={"title": "CEO"}, source="csv"))
    by_user = r.resolve(Entry(user_id="u-9", source="csv"))
    assert first.created and not by_email.created and not by_user.created
    assert first.contact_key == by_email.contact_key == by_user.contact_key
    assert r.result.contacts[first.contact_key].values["title"] == "CEO"


def test_p2_an_entry_that_changes_an_email_is_found_by_the_new_email_only():
    r = resolver([contact(7, "old@example.com", linked=LEAD)])
    r.resolve(Entry(salesforce_id=LEAD, email="new@example.com"))
    assert r.resolve(Entry(email="new@example.com")).contact_key == 7
    assert r.resolve(Entry(email="old@example.com")).created


def test_p2_a_salesforce_id_given_with_an_email_match_links_the_contact_once():
    r = resolver([contact(7, "ann@example.com")])
    assert r.resolve(Entry(email="ann@example.com", salesforce_id=LEAD)).contact_key == 7
    assert r.result.contacts[7].salesforce_id == LEAD
    assert r.resolve(Entry(salesforce_id=LEAD)).contact_key == 7


@pytest.mark.parametrize("sync, default, asked", [
    ("immediate", "skip", "queued"),
    ("skip", "immediate", "skipped"),
    (None, "immediate", "queued"),
    (None, "skip", "skipped"),
])
def test_p1_each_new_entry_says_whether_it_goes_to_salesforce_now(sync, default, asked):
    r = resolver(default_sync=default)
    outcome = r.resolve(Entry(email="ann@example.com", sync=sync))
    assert r.result.contacts[outcome.contact_key].push_request == asked


@pytest.mark.parametrize("entry, words", [
    (Entry(email="not an email"), "not an email address"),
    (Entry(), "needs an email, a user id, a cookie or a Salesforce id"),
    (Entry(salesforce_id="001000000000001"), "is not a Lead or Contact id"),
    (Entry(salesforce_id="nonsense"), "is not a Salesforce id"),
    (Entry(email="ann@example.com", traits={"shoe_size": "9"}), "unknown contact field"),
    (Entry(email="ann@example.com", sync="later"), "sync must be immediate or skip"),
])
def test_p2_an_entry_that_cannot_enter_is_refused_with_one_sentence_and_changes_nothing(entry, words):
    r = resolver(everyone(), HELD)
    with pytest.raises(EntryError, match=words):
        r.resolve(entry)
    assert not r.result.contacts and not r.new_identifiers
