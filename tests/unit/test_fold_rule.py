"""R7: when the sync may fold a contact on its own (pure rule)."""

import datetime as dt

import pytest

from conversion_sync.sync.merge import CONVERSION_SPAN, created_by_conversion, foldable
from conversion_sync.sync.model import ContactState

T = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("created, converted, expected", [
    (T, T, True),                                         # one transaction: the same instant
    (T - dt.timedelta(seconds=3), T, True),               # triggers and flows in between
    (T - CONVERSION_SPAN, T, True),
    (T - CONVERSION_SPAN - dt.timedelta(milliseconds=1), T, False),
    (T - dt.timedelta(days=30), T, False),                # an existing Contact
    (T, T + dt.timedelta(days=2), False),                 # Lead edited after its conversion: not sure, keep both
    (None, T, False),                                     # unknown: never removed on a guess
    (T, None, False),
])
def test_a_contact_came_with_the_conversion_only_when_created_in_it(created, converted, expected):
    assert created_by_conversion(created, converted) is expected


@pytest.mark.parametrize("change, expected", [
    ({}, True),
    ({"origin": "form"}, False),
    ({"has_identifiers": True}, False),
    ({"edited_in_conversion": True}, False),
])
def test_only_a_sync_made_contact_with_only_salesforce_data_folds(change, expected):
    contact = ContactState(key=1, **change)
    assert foldable(contact, contact_created=T, lead_converted=T) is expected
    assert foldable(contact, contact_created=T - dt.timedelta(days=1), lead_converted=T) is False
