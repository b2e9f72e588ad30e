"""The product's id rule (R4d) and the sandbox org's own, written apart, agree on every id: the org
hands out and reads back the same 18-character ids the sync computes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sandbox_org import ids as org_ids

from conversion_sync.sync import ids as product_ids

ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _outcome(to_18, value):
    try:
        return to_18(value)
    except ValueError:
        return "refused"


@given(st.text(alphabet=ID_CHARS, min_size=15, max_size=15), st.sampled_from(["", "keep", "lower", "upper", "other"]),
       st.text(alphabet=ID_CHARS, min_size=3, max_size=3))
def test_both_read_every_id_alike(id15, form, other_suffix):
    id18 = product_ids.to_18(id15)
    value = {"": id15, "keep": id18, "lower": id18.lower(), "upper": id18.upper(), "other": id15 + other_suffix}[form]
    assert _outcome(org_ids.to_18, value) == _outcome(product_ids.to_18, value)


def test_both_know_the_same_key_prefixes():
    assert org_ids.KEY_PREFIXES == product_ids.KEY_PREFIXES


@pytest.mark.parametrize("value", ["001A0000006Vm9r", "001a0000006vm9riac", " 001A0000006Vm9r ", "001A0000006Vm9", ""])
def test_both_agree_on_edge_cases(value):
    assert _outcome(org_ids.to_18, value) == _outcome(product_ids.to_18, value)
