"""The one value rule (sync/values.py): what an email address is and how long a field may be,
asked by the pull (H2), `contacts add`/`import`/`set` and `api.identify` (P1) alike."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversion_sync.sync import values
from conversion_sync.sync.identity import Entry, EntryError
from conversion_sync.sync.records import from_api
from conversion_sync.sync.values import (
    MAX_EMAIL_LENGTH,
    MAX_TEXT_LENGTH,
    BadValue,
    checked_email,
    checked_field,
    email_key,
    email_problem,
)


@pytest.mark.parametrize("email", ["ann@example.com", "a.b+tag@sub.example.co.uk", "Ann@Example.COM",
                                   "o'neil@example.ie", "x@y.io"])
def test_addresses_are_accepted(email):
    assert email_problem(email) is None and checked_email(f"  {email} ") == email


@pytest.mark.parametrize("email, words", [
    ("not-an-email", "not an email address"),
    ("ann@example", "not an email address"),
    ("ann@@example.com", "not an email address"),
    ("a b@example.com", "not an email address"),
    ("ann@example..com", "not an email address"),
    ("ann@.example.com", "not an email address"),
    ("ann@example.com\x00", "NUL"),
    ("ann\ud800@example.com", "surrogate"),
    ("a" * 65 + "@example.com", "before @"),
    ("a" * 295 + "@example.com", "307 characters long"),     # issue 8, finding 10
    ("a" * 399 + "@example.com", "411 characters long"),     # issue 8, finding 6
])
def test_what_is_not_an_address_is_refused_with_the_reason(email, words):
    problem = email_problem(email)
    assert problem is not None and words in problem
    with pytest.raises(BadValue, match=words.replace("(", r"\(")):
        checked_email(email)
    assert len(problem) < 200                     # a 10 MB value never fills the screen


def test_a_key_that_lower_casing_lengthens_still_fits_its_column():
    email = "\u0130" * 64 + "@" + "\u0130" * 185 + ".com"        # İ lower-cases to two characters
    assert email_problem(email) is None
    assert email_key(email) is None and email_key("\u0130nci@example.com") == "\u0130nci@example.com".lower()


def test_254_characters_is_the_longest_address():
    assert len("l" * 64 + "@" + "d" * 185 + ".com") == 254
    assert email_problem("l" * 64 + "@" + "d" * 185 + ".com") is None
    assert "255 characters long" in email_problem("l" * 64 + "@" + "d" * 186 + ".com")


# Text that also holds what databases refuse: NUL and lone surrogates (plain st.text never does).
_ANY_TEXT = st.lists(st.one_of(st.characters(), st.sampled_from(["\x00", "\ud800", "\udfff", "@", ".", "a"])),
                     max_size=600).map("".join)


@given(_ANY_TEXT)
def test_the_email_key_always_fits_its_column_and_never_holds_what_the_database_refuses(text):
    key = email_key(text)
    assert key is None or (len(key) <= values.MAX_EMAIL_KEY_LENGTH and "\x00" not in key
                           and not any("\ud800" <= ch <= "\udfff" for ch in key))


@given(_ANY_TEXT)
def test_an_accepted_email_is_storable_and_short_enough(text):
    try:
        email = checked_email(text)
    except BadValue:
        return
    assert email is None or (email_problem(email) is None and len(email) <= MAX_EMAIL_LENGTH
                             and values.unstorable_problem(email) is None
                             and email_key(email) == (email.lower() if len(email.lower()) <= 320 else None))


@given(_ANY_TEXT)
def test_what_the_mirror_stores_is_always_storable(text):
    assert values.unstorable_problem(values.storable(text)) is None
    assert values.storable(text) == text or values.unstorable_problem(text) is not None


@pytest.mark.parametrize("field, value, words", [
    ("title", "t" * (MAX_TEXT_LENGTH + 1), "131,073 characters long"),
    ("first_name", "Ann\x00", "NUL"),
    ("last_name", "Lee\udc80", "surrogate"),
    ("user_id", "u" * 513, "at most 512"),
    ("title", ["a", "list"], "must be text"),
    ("title", {"a": 1}, "must be text"),
    ("title", b"bytes", "must be text"),
    ("phone", float("nan"), "must be text"),
])
def test_field_values_that_cannot_be_stored_are_refused_naming_the_field(field, value, words):
    with pytest.raises(BadValue) as refused:
        checked_field(field, value)
    assert str(refused.value).startswith(field) and words in str(refused.value)


@pytest.mark.parametrize("value, stored", [("  Ann ", "Ann"), ("", None), (None, None), (42, "42"),
                                           (4.0, "4"), (True, "true"), ("t" * MAX_TEXT_LENGTH, "t" * MAX_TEXT_LENGTH)])
def test_good_field_values_are_taken_in_stored_form(value, stored):
    assert checked_field("title", value) == stored


@pytest.mark.parametrize("kwargs, words", [
    ({"email": "a" * 295 + "@example.com"}, "307 characters long"),
    ({"email": "ann@example.com", "traits": {"title": "t" * 200_000}}, "title is 200,000 characters long"),
    ({"email": "ann@example.com", "traits": {"first_name": "A\x00"}}, "first_name holds a NUL"),
    ({"email": "ann@example.com", "traits": {"first_name": ["x"]}}, "first_name must be text"),
    ({"user_id": "u" * 600}, "user_id is 600 characters long"),
    ({"cookie": "c\x00"}, "cookie holds a NUL"),
    ({"email": "ann@example.com", "salesforce_id": "00Q000000000001XYZ"}, "not the checksum"),
])
def test_entries_ask_the_same_rule(kwargs, words):
    with pytest.raises(EntryError, match=words):
        Entry(**kwargs).validated()


def _lead(**fields):
    raw = {"Id": "00Q000000000001", "SystemModstamp": "2026-01-01T00:00:00.000+0000", "IsDeleted": False,
           "IsConverted": False, "LastName": "Lee", **fields}
    return from_api("Lead", raw)


@pytest.mark.parametrize("fields, words", [
    ({"Email": "a" * 399 + "@example.com"}, "invalid email"),
    ({"Email": "nope"}, "invalid email"),
    ({"Email": "ann@example.com", "Title": "t" * (MAX_TEXT_LENGTH + 1)}, "Title is 131,073 characters"),
    ({"Email": "ann@example.com", "FirstName": "A\x00nn"}, "FirstName holds a NUL"),
    ({"Email": "ann@example.com", "FirstName": "A\ud800"}, "FirstName holds an invalid character"),
    ({"Email": "a\x00@example.com"}, "invalid email"),
])
def test_a_pulled_record_with_a_bad_value_is_not_applied_but_can_be_stored(fields, words):
    record = _lead(**fields)
    assert words in record.unappliable()
    # What the mirror keeps: every value storable on both databases, the email key fits.
    for value in record.fields.values():
        assert value is None or values.unstorable_problem(value) is None
    assert record.email_key is None or len(record.email_key) <= MAX_EMAIL_LENGTH


def test_deletes_and_conversions_apply_whatever_the_values_say():
    assert _lead(Email="nope", IsDeleted=True).unappliable() is None
    assert _lead(Email="a\x00@x.com", IsConverted=True).unappliable() is None
    assert _lead(Email="ann@example.com").unappliable() is None


def _one_by_one_problem(fields):
    """H2 as defined value by value: the first pulled value that cannot be applied."""
    for name, value in fields.items():
        if isinstance(value, str):
            problem = values.pulled_value_problem(name, value)
            if problem:
                return problem
    return None


_PULLED_TEXT = st.one_of(st.none(), _ANY_TEXT, st.sampled_from(["ann@example.com", "x" * (MAX_TEXT_LENGTH + 1)]))


@given(st.fixed_dictionaries({"FirstName": _PULLED_TEXT, "Email": _PULLED_TEXT, "Title": _PULLED_TEXT}))
def test_a_records_values_checked_together_find_the_same_first_problem_as_one_by_one(fields):
    # Issue 10: one search over all of a record's values instead of one per value.
    trimmed = {name: (value.strip() or None) if value is not None else None for name, value in fields.items()}
    assert values.first_pulled_problem(trimmed) == _one_by_one_problem(trimmed)
    record = _lead(**fields)
    unstorable = next((values.pulled_value_problem(n, v) for n, v in trimmed.items()
                       if v is not None and values.unstorable_problem(v)), None)
    assert record.problem == (unstorable or _one_by_one_problem(trimmed))
