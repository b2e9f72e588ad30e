"""Property tests of the sandbox's building blocks: the copy-on-write block index, ids, and
datetime literals as format_soql writes them."""

from __future__ import annotations

import bisect
from datetime import UTC, datetime, timedelta, timezone

import sandbox_org.blocklist as blocklist
from hypothesis import given, settings
from hypothesis import strategies as st
from sandbox_org.ids import to_18
from sandbox_org.soql import parse
from sandbox_org.store import make_id, normalize_id
from sandbox_org.values import datetime_to_ms, format_rest_datetime, parse_datetime_text
from simple_salesforce import format_soql

OPS = st.lists(st.tuples(st.sampled_from(["add", "remove", "update", "window"]), st.integers(0, 60),
                         st.integers(0, 60), st.booleans()), max_size=120)


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_blocklist_matches_a_sorted_list_and_windows_stay_frozen(ops):
    old_load = blocklist.LOAD
    blocklist.LOAD = 3  # tiny blocks: splits, merges and copy-on-write happen all the time
    try:
        ref: list = []
        index = blocklist.BlockList()
        frozen = []
        for n, (op, a, b, rev) in enumerate(ops):
            if op == "add" or (op == "remove" and not ref):
                entry = (a, f"{n:04d}")
                index.add(entry)
                bisect.insort(ref, entry)
            elif op == "remove":
                entry = ref[a % len(ref)]
                index.remove(entry)
                ref.remove(entry)
            elif op == "update":
                new = [(a + i, f"{n:04d}-{i}") for i in range(b % 7)]
                index.update(new)
                ref = sorted(ref + new)
            else:
                i, j = sorted((a % (len(ref) + 1), b % (len(ref) + 1)))
                frozen.append((index.window(i, j, rev), ref[i:j][::-1] if rev else ref[i:j]))
            assert list(index) == ref
            assert index.bisect_left((a,)) == bisect.bisect_left(ref, (a,))
            assert index.bisect_right((a, "~")) == bisect.bisect_right(ref, (a, "~"))
        for window, expected in frozen:
            assert list(window) == expected
            assert window.entries(1, 4) == expected[1:4]
            assert list(window.slice(1, 3)) == expected[1:3]
    finally:
        blocklist.LOAD = old_load


@given(st.sampled_from(["001", "003", "00Q", "0r8"]), st.integers(0, 62 ** 9 - 1))
def test_generated_ids_carry_the_salesforce_checksum(prefix, number):
    rid = make_id(prefix, "8d", number)
    assert len(rid) == 18 and rid.startswith(prefix)
    assert to_18(rid[:15]) == rid == normalize_id(rid[:15]) == normalize_id(rid)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)),
                                               timezone(timedelta(hours=5, minutes=30))])))
def test_format_soql_datetimes_parse_to_the_same_instant(moment):
    soql = format_soql("SELECT Id FROM Lead WHERE SystemModstamp > {}", moment)
    literal = parse(soql).where.value.value
    assert parse_datetime_text(literal) == datetime_to_ms(moment.replace(microsecond=0))
    ms = datetime_to_ms(moment)
    assert parse_datetime_text(format_rest_datetime(ms)) == ms
