"""Salesforce's datetimes as the REST and Bulk APIs send them, read as aware UTC; anything else is
refused with one sentence (issue 10 added a faster path for the usual shapes: same answers)."""

import datetime as dt

import pytest

from conversion_sync.sync.records import parse_datetime

UTC = dt.UTC


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-05-01T12:30:15.000+0000", dt.datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)),      # REST
    ("2024-05-01T12:30:15.123Z", dt.datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=UTC)),  # Bulk 2.0
    ("2024-05-01T12:30:15Z", dt.datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)),
    ("2024-05-01T12:30:15.5+00:00", dt.datetime(2024, 5, 1, 12, 30, 15, 500000, tzinfo=UTC)),
    ("2024-05-01T14:30:15.000+0200", dt.datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)),
    ("2024-05-01T07:00:15.000-05:30", dt.datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)),
    ("2024-05-01T12:30:15.1234567Z", dt.datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)),  # over 6 digits
    ("2024-05-01T12:30:15", dt.datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)),               # no zone: UTC
    ("  2024-05-01T12:30:15.000+0000 ", dt.datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)),
])
def test_the_shapes_salesforce_sends_are_read_as_utc(text, expected):
    parsed = parse_datetime(text)
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize("text", [
    "2024-05-01", "2024-05-01 12:30:15Z", "2024-05-01T12:30Z", "2024-05-01T12:30:15,5Z",
    "2024-05-01T12:30:15+01", "2024-13-01T12:30:15Z", "2024-05-01T25:30:15.000+0000", "yesterday",
])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError, match=r"not a Salesforce datetime|out of range|must be in"):
        parse_datetime(text)


def test_blank_is_none_and_a_datetime_passes_through():
    assert parse_datetime("") is None and parse_datetime(None) is None
    assert parse_datetime(dt.datetime(2024, 5, 1, 12, 30)) == dt.datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
