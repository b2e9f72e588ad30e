"""The merge decisions (sync/merge.py) on their own: which value each field keeps when two
contacts become one (P6 and the R7 fold), when a merge is refused, and what the kept and the
removed contact become."""

import datetime as dt

import pytest

from conversion_sync.sync.ids import to_18
from conversion_sync.sync.merge import fold_fields, merge_into, merge_refusal
from conversion_sync.sync.model import ContactState

UTC = dt.UTC
T0 = dt.datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
OLD, NEW = T0 - dt.timedelta(days=1), T0
LEAD, OTHER = to_18("00Q000000000001"), to_18("00Q000000000002")


def person(key, *, linked=None, company=None, **fields):
    """A contact; each field given as (value, updated_at)."""
    return ContactState(key=key, values={n: v for n, (v, _) in fields.items()},
                        field_updated_at={n: at for n, (_, at) in fields.items()},
                        salesforce_id=linked, salesforce_object="Lead" if linked else None,
                        company_id=company, company_id_updated_at=OLD if company else None, updated_at=OLD)


@pytest.mark.parametrize("kept, other, expected", [
    (("CEO", OLD), ("CTO", NEW), "CTO"),          # the other's value is newer: it wins
    (("CEO", NEW), ("CTO", OLD), "CEO"),          # the kept one is newer: it stays
    ((None, NEW), ("CTO", OLD), "CTO"),           # an empty field takes any value
    (("CEO", OLD), (None, NEW), "CEO"),           # an empty value never wins
    (("CEO", NEW), ("CTO", NEW), "CEO"),          # a tie keeps the kept contact's value
    (("CEO", None), ("CTO", OLD), "CTO"),         # a value of unknown age loses to a dated one
])
def test_each_field_takes_the_newer_value(kept, other, expected):
    keep, remove = person(1, title=kept), person(2, title=other)
    changes = fold_fields(keep, remove)
    assert keep.values["title"] == expected
    assert changes == ({"title": [kept[0], expected]} if expected != kept[0] else {})


@pytest.mark.parametrize("keep_link, remove_link, refused", [
    (LEAD, OTHER, True),
    (LEAD, LEAD, False),
    (LEAD, None, False),
    (None, OTHER, False),
    (None, None, False),
])
def test_p6_two_contacts_linked_to_different_salesforce_records_are_not_merged(keep_link, remove_link, refused):
    message = merge_refusal(person(1, linked=keep_link), person(2, linked=remove_link))
    assert (message is not None) is refused
    if refused:
        assert LEAD in message and OTHER in message and "merge those records in Salesforce" in message


@pytest.mark.parametrize("keep_args, remove_args, link, company", [
    ({}, {"linked": OTHER, "company": 9}, OTHER, 9),               # the kept one takes both
    ({"linked": LEAD, "company": 8}, {"company": 9}, LEAD, 8),       # it keeps its own
    ({"linked": LEAD}, {"linked": LEAD}, LEAD, None),
])
def test_p6_the_kept_contact_takes_the_link_and_company_it_lacks_and_the_other_is_removed(
        keep_args, remove_args, link, company):
    keep, remove = person(1, **keep_args, email=("a@x.io", OLD)), person(2, **remove_args, email=("b@x.io", NEW))
    changes = merge_into(keep, remove, now=T0)
    assert (keep.salesforce_id, keep.company_id, keep.values["email"]) == (link, company, "b@x.io")
    assert remove.removed and remove.folded_into == 1 and not keep.removed
    assert keep.updated_at == T0
    assert changes["email"] == ["a@x.io", "b@x.io"]
    assert ("salesforce_id" in changes) is (not keep_args.get("linked") and bool(remove_args.get("linked")))
