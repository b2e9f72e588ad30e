"""The org's own id checksum, against ids published outside this project (SPEC R4d)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sandbox_org.ids import InvalidSalesforceId, checksum, to_18

# Checked vectors (salesforce_id_converter on PyPI, the salesforce_id_formatter gem, two gists).
PUBLISHED = [
    ("00558000001N0Ke", "AAK"),
    ("70130000001tcyI", "AAQ"),
    ("a0BA0000000L2ZC", "MA0"),
    ("AaaAABbbBBCccCC", "ZZZ"),
    ("AAaAAbbBBBCcCCC", "123"),
]


@pytest.mark.parametrize("id15, suffix", PUBLISHED)
def test_the_checksum_matches_published_ids(id15, suffix):
    assert checksum(id15) == suffix
    assert to_18(id15) == id15 + suffix
    assert to_18(id15 + suffix) == id15 + suffix
    assert to_18(id15 + suffix.lower()) == id15 + suffix


@pytest.mark.parametrize("id15, suffix", PUBLISHED)
def test_an_id_whose_case_a_tool_lost_gets_it_back(id15, suffix):
    assert to_18((id15 + suffix).lower()) == id15 + suffix
    assert to_18((id15 + suffix).upper()) == id15 + suffix


@pytest.mark.parametrize("value", ["00558000001N0Ke" + "AAA", "00558000001n0KeAAK", "0055800000", "0055800000!N0Ke",
                                   None, 5, "00558000001N0KeAA"])
def test_ids_that_are_not_ids_are_refused(value):
    with pytest.raises(InvalidSalesforceId):
        to_18(value)


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=15, max_size=15))
def test_every_15_character_id_round_trips(id15):
    id18 = to_18(id15)
    assert id18[:15] == id15 and to_18(id18) == id18 == to_18(id18.lower()) == to_18(id18.upper())
