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


# -- issue 8, finding 10: a mistyped checksum is refused, a case-lost id gets its case back -------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conversion_sync.sync.ids import checksum_suffix  # noqa: E402

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@pytest.mark.parametrize("mistyped", [
    "00558000001N0KeAAB",      # last character wrong
    "00558000001N0KeXYZ",      # a suffix from nowhere
    "00558000001N0KeAAA",      # the checksum of a different case
    "001000000000001AAB",      # no letters at all: only AAA fits
])
def test_an_18_character_id_whose_checksum_disagrees_is_refused(mistyped):
    with pytest.raises(InvalidSalesforceId, match="not the checksum of the first 15"):
        to_18(mistyped)


@pytest.mark.parametrize("given_id", ["00558000001n0keaak", "00558000001N0KEAAK", "00558000001n0keAAK",
                                      "00558000001N0KEaak"])
def test_an_id_whose_case_was_lost_is_accepted_and_its_case_restored(given_id):
    assert to_18(given_id) == "00558000001N0KeAAK"


@given(st.text(alphabet=_ALNUM, min_size=15, max_size=15))
def test_every_form_of_a_real_id_gives_the_same_18_characters(id15):
    real = id15 + checksum_suffix(id15)
    assert to_18(id15) == real
    assert to_18(real) == real and to_18(real.lower()) == real and to_18(real.upper()) == real
    assert to_18(id15 + checksum_suffix(id15).lower()) == real


@given(st.text(alphabet=_ALNUM, min_size=15, max_size=15), st.text(alphabet=_ALNUM, min_size=3, max_size=3))
def test_a_wrong_checksum_never_names_another_record_with_the_same_case(id15, suffix):
    letters = [c for c in id15 if c.isalpha()]
    mixed = any(c.islower() for c in letters) and any(c.isupper() for c in letters)
    if suffix.upper() == checksum_suffix(id15) or not mixed:
        return
    with pytest.raises(InvalidSalesforceId):
        to_18(id15 + suffix)
