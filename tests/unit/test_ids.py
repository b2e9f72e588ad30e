"""R4d: Salesforce ids are stored in their 18-character form; 15-character ids are converted."""

import pytest

from conversion_sync.sync.ids import InvalidSalesforceId, to_18, to_18_or_none


@pytest.mark.parametrize("id15, suffix", [
    ("00558000001N0Ke", "AAK"),
    ("70130000001tcyI", "AAQ"),
    ("a0BA0000000L2ZC", "MA0"),
    ("AaaAABbbBBCccCC", "ZZZ"),
    ("AAaAAbbBBBCcCCC", "123"),
])
def test_fifteen_character_ids_get_salesforces_checksum(id15, suffix):
    assert to_18(id15) == id15 + suffix


def test_eighteen_character_ids_are_kept_and_their_checksum_repaired():
    assert to_18("00558000001N0KeAAK") == "00558000001N0KeAAK"
    assert to_18("00558000001N0Keaak") == "00558000001N0KeAAK"  # a tool lower-cased the suffix
    assert to_18("  00558000001N0Ke ") == "00558000001N0KeAAK"


@pytest.mark.parametrize("bad", ["", "abc", "00558000001N0Ke!", "00558000001N0KeAAKX", None, 42])
def test_values_that_are_not_ids_are_refused(bad):
    with pytest.raises(InvalidSalesforceId):
        to_18(bad)


def test_optional_ids():
    assert to_18_or_none(None) is None
    assert to_18_or_none("  ") is None
    assert to_18_or_none("00558000001N0Ke") == "00558000001N0KeAAK"
