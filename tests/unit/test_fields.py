"""R5: the gate, the preferences and the three-way compare, field by field."""

import datetime as dt

import pytest

from conversion_sync.sync.fields import Preference, push_to_salesforce, take_from_salesforce

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
OLDER, NEWER = T0 - dt.timedelta(hours=1), T0 + dt.timedelta(hours=1)
P = Preference


@pytest.mark.parametrize("preference, sf_value, current, expected", [
    (P.PREFER_SALESFORCE_UNLESS_EMPTY, "CEO", "CTO", True),
    (P.PREFER_SALESFORCE_UNLESS_EMPTY, None, "CTO", False),     # unless empty
    (P.PREFER_SALESFORCE_UNLESS_EMPTY, "  ", "CTO", False),     # blank is empty
    (P.ALWAYS_PREFER_SALESFORCE, None, "CTO", True),            # empty included
    (P.ALWAYS_PREFER_CONVERSION, "CEO", "CTO", False),
    (P.TWO_WAY, "CEO", "CTO", True),
    (P.DO_NOT_SYNC, "CEO", "CTO", False),
    (P.TWO_WAY, "CTO", "CTO", False),                           # same value: nothing to take
])
def test_pull_preferences_once_the_gate_is_open(preference, sf_value, current, expected):
    assert take_from_salesforce(preference, salesforce_value=sf_value, current_value=current,
                                record_modified=T0, field_updated_at=OLDER) is expected


@pytest.mark.parametrize("preference", [P.PREFER_SALESFORCE_UNLESS_EMPTY, P.ALWAYS_PREFER_SALESFORCE, P.TWO_WAY])
def test_the_gate_keeps_a_newer_conversion_edit(preference):
    assert not take_from_salesforce(preference, salesforce_value="CEO", current_value="CTO",
                                    record_modified=T0, field_updated_at=NEWER)
    assert not take_from_salesforce(preference, salesforce_value="CEO", current_value="CTO",
                                    record_modified=T0, field_updated_at=T0)  # equal is not newer


def test_a_field_never_set_passes_the_gate():
    assert take_from_salesforce(P.TWO_WAY, salesforce_value="CEO", current_value=None,
                                record_modified=T0, field_updated_at=None)


def test_a_value_salesforce_did_not_change_is_never_taken():
    # The record was touched (LastModifiedDate moved) but Title is what Salesforce said before:
    # an older Conversion edit is kept rather than reverted.
    assert not take_from_salesforce(P.ALWAYS_PREFER_SALESFORCE, salesforce_value="CEO", mirror_value="CEO",
                                    current_value="Founder", record_modified=T0, field_updated_at=OLDER)
    assert take_from_salesforce(P.ALWAYS_PREFER_SALESFORCE, salesforce_value="CEO", mirror_value="CTO",
                                current_value="Founder", record_modified=T0, field_updated_at=OLDER)


@pytest.mark.parametrize("preference, sf_value, expected", [
    (P.PREFER_SALESFORCE_UNLESS_EMPTY, None, True),     # only where Salesforce's value is empty
    (P.PREFER_SALESFORCE_UNLESS_EMPTY, "CEO", False),
    (P.ALWAYS_PREFER_SALESFORCE, None, False),          # never
    (P.ALWAYS_PREFER_CONVERSION, "CEO", True),
    (P.TWO_WAY, "CEO", True),
    (P.DO_NOT_SYNC, None, False),
])
def test_push_preferences_for_a_newer_conversion_edit(preference, sf_value, expected):
    assert push_to_salesforce(preference, conversion_value="CTO", field_updated_at=NEWER,
                              salesforce_value=sf_value, record_modified=T0) is expected


def test_push_needs_an_edit_newer_than_the_record_and_a_different_value():
    assert not push_to_salesforce(P.TWO_WAY, conversion_value="CTO", field_updated_at=OLDER,
                                  salesforce_value="CEO", record_modified=T0)
    assert not push_to_salesforce(P.TWO_WAY, conversion_value="CEO", field_updated_at=NEWER,
                                  salesforce_value="CEO", record_modified=T0)
    assert not push_to_salesforce(P.TWO_WAY, conversion_value="CTO", field_updated_at=NEWER,
                                  salesforce_value="CEO", record_modified=T0, read_only=True)


def test_email_lookups_are_chunked_by_count_and_by_url_length():
    from conversion_sync.sync.push import LOOKUP_CHARS
    from conversion_sync.sync.push import email_chunks as _email_chunks

    short = [f"a{i}@example.com" for i in range(450)]
    assert [len(c) for c in _email_chunks(short)] == [200, 200, 50]
    long = [("x" * 70) + f"{i}@example.com" for i in range(200)]
    chunks = _email_chunks(long)
    assert len(chunks) > 1 and sum(len(c) for c in chunks) == 200
    assert all(sum(len(e) + 4 for e in c) <= LOOKUP_CHARS for c in chunks)
