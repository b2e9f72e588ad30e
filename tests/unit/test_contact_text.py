"""`contacts show`: the fields a person reads (no internal markers)."""

import datetime as dt

from conversion_sync.cli_text import contact_text
from conversion_sync.store.push import RECONCILED


def _contact(edited):
    return {"id": 7, "email": "a@example.com", "edited_in_conversion_at": edited, "push_state": "pushed",
            "identifiers": [], "history": []}


def test_a_sent_edit_shows_no_made_up_edit_time():
    """After the push the marker is the fixed stamp 2000-01-01 (as SQLite returns it, without a zone):
    `contacts show` must not tell the user they edited the contact in the year 2000."""
    for stamp in (RECONCILED, RECONCILED.replace(tzinfo=None)):
        text = contact_text(_contact(stamp))
        assert "edited_in_conversion_at" not in text and "2000-01-01" not in text


def test_an_unsent_edit_shows_when_it_was_made():
    text = contact_text(_contact(dt.datetime(2026, 12, 2, 3, 2, 29)))
    assert "edited_in_conversion_at: 2026-12-02 03:02:29" in text
