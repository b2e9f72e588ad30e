"""The one email rule (sync/values.py) against the real store, on SQLite and PostgreSQL: whatever
text it accepts as an address, the database stores with its matching key and gives back
unchanged, so an accepted email can never fail at the write (H2: one bad value never blocks a
batch)."""

import datetime as dt

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from conversion_sync.store.schema import contacts
from conversion_sync.sync.values import BadValue, checked_email, email_key

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
# Text near what databases refuse: NUL, lone surrogates, characters that lengthen when lower-cased.
_TEXT = st.lists(st.one_of(st.characters(), st.sampled_from(["\x00", "\ud800", "\u0130", "@", ".", "a", " "])),
                 max_size=300).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_TEXT)
@example("ann@example.com")
@example("l" * 64 + "@" + "d" * 185 + ".com")                      # the longest address
@example("\u0130" * 64 + "@" + "\u0130" * 185 + ".com")              # its key would not fit its column
@example("ann@example.com\x00")
@example("ann\ud800@example.com")
def test_an_email_the_rule_accepts_is_stored_and_read_back_unchanged(engine, text):
    try:
        email = checked_email(text)
    except BadValue:
        return
    key = email_key(email)
    with engine.begin() as conn:
        contact_id = conn.execute(insert(contacts).values(
            email=email, email_key=key, origin="api", salesforce_sync="skip",
            created_at=NOW, updated_at=NOW).returning(contacts.c.id)).scalar()
        stored = conn.execute(select(contacts.c.email, contacts.c.email_key).where(contacts.c.id == contact_id)).one()
        conn.execute(delete(contacts).where(contacts.c.id == contact_id))
    assert tuple(stored) == (email, key)
