"""The one working-set index (sync/working_set.py) the pull and identity resolution share: after
any sequence of adds, email changes, links and unlinks, looking a contact up by Salesforce id or
by email gives what a scan of every contact gives (so no record matches a contact it no longer
names, R4a/R4b/P2)."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from conversion_sync.sync.ids import to_18
from conversion_sync.sync.model import ContactState
from conversion_sync.sync.values import email_key
from conversion_sync.sync.working_set import WorkingSet

T0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
IDS = [to_18(f"00Q{n:012d}") for n in range(4)]
EMAILS = ["ann@example.com", "ANN@example.com", " bob@example.com", "bob@EXAMPLE.com", "not an email", None]

operation = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(EMAILS), st.sampled_from([*IDS, None])),
    st.tuples(st.just("email"), st.integers(0, 20), st.sampled_from(EMAILS)),
    st.tuples(st.just("link"), st.integers(0, 20), st.sampled_from([*IDS, None])),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(operation, max_size=30))
def test_lookups_agree_with_a_scan_of_every_contact(operations):
    working = WorkingSet()
    everyone: list[ContactState] = []
    for kind, *args in operations:
        if kind == "add":
            email, salesforce_id = args
            if salesforce_id and working.linked_to(salesforce_id):
                salesforce_id = None              # the store never loads two contacts for one id (R4d)
            contact = ContactState(key=len(everyone) + 1, values={"email": email}, salesforce_id=salesforce_id)
            working.add(contact)
            everyone.append(contact)
        elif everyone:
            contact = everyone[args[0] % len(everyone)]
            if kind == "email":
                working.set_value(contact, "email", args[1], T0)
            elif args[1] is None or working.linked_to(args[1]) in (None, contact):
                working.link(contact, args[1], "Lead" if args[1] else None)
    for salesforce_id in IDS:
        holders = [c for c in everyone if c.salesforce_id == salesforce_id]
        assert len(holders) <= 1
        assert working.linked_to(salesforce_id) is (holders[0] if holders else None)
    for email in EMAILS:
        key = email_key(email)
        expected = [c.key for c in everyone if key and c.email_key == key]
        assert [c.key for c in working.with_email(key)] == expected
        assert working.by_email.keys(key) == set(expected)
    assert working.by_key == {c.key: c for c in everyone}


def test_email_keys_follow_the_email_however_it_changes():
    """The keys are computed once and kept (issue 10); a contact whose email is replaced in place
    (a fold writes `values` directly) or a record whose fields are replaced (staging keeps hidden
    fields) must still be found by its new email, never its old one."""
    from conversion_sync.sync.records import PulledRecord

    contact = ContactState(key=1, values={"email": "Ann@Example.com"})
    working = WorkingSet([contact])
    assert contact.email_key == "ann@example.com"
    old = contact.email_key
    contact.values["email"] = " bob@example.com "
    assert contact.email_key == "bob@example.com"
    working.email_moved(contact, old)
    assert [c.key for c in working.with_email("bob@example.com")] == [1]
    assert working.with_email("ann@example.com") == []
    working.set_value(contact, "first_name", "Bob", T0)       # no other field moves the index
    working.set_value(contact, "email", "cy@example.com", T0)
    assert [c.key for c in working.with_email("cy@example.com")] == [1]
    assert working.with_email("bob@example.com") == []

    record = PulledRecord(sobject="Lead", salesforce_id=IDS[0], system_modstamp=T0, last_modified_date=T0,
                          fields={"Email": "Dee@Example.com"})
    assert record.email_key == "dee@example.com"
    record.fields = {**record.fields, "Email": "eve@example.com"}
    assert record.email_key == "eve@example.com"
    record.fields["Email"] = None
    assert record.email_key is None
