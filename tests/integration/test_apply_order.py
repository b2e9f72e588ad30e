"""R4e: the records of one pull apply in (SystemModstamp, Id) order, not in Id order. Here the two
orders disagree and the outcome depends on it: two Salesforce records carry the email of one
free Conversion contact, and R4b links that contact to whichever is applied first, which must
be the one modified first, even when its Id sorts last. On one batch and on batches of one
record (where the order in which the store hands out pending records decides)."""

import pytest

from conversion_sync.sync.ids import to_18

EMAIL = "ann@example.com"


def _create(org, sobject, last_name):
    fields = {"LastName": last_name, "Email": EMAIL}
    if sobject == "Lead":
        fields["Company"] = "X"
    return org.create(sobject, fields)


@pytest.mark.parametrize("batch_size", [None, 1], ids=["one batch", "batches of one"])
@pytest.mark.parametrize("first, second", [("Lead", "Lead"), ("Contact", "Lead")])
def test_the_record_modified_first_is_linked_first_even_when_its_id_sorts_last(
        harness, org, sync_config, batch_size, first, second):
    if batch_size:
        sync_config(f"apply_batch_size: {batch_size}\n")
    free = harness.identify(EMAIL, traits={"first_name": "Ann"}, sync="skip")   # waits for Salesforce
    org.advance_clock(-10)                      # distinct stamps, all before our pull's window closes
    low = _create(org, first, "Low")            # the lower Id ...
    org.advance_clock(2)
    high = _create(org, second, "High")
    org.advance_clock(2)
    org.update(first, low, {"Title": "Edited"})  # ... modified after the other one
    assert to_18(low) < to_18(high)
    assert org.get(first, low)["SystemModstamp"] > org.get(second, high)["SystemModstamp"]
    result = harness.pull()
    assert result["contacts"]["linked_by_email"] == 1 and result["contacts"]["created"] == 1
    linked = harness.contact(free.contact_id)
    assert (linked.salesforce_id, linked.salesforce_object, linked.last_name) == (to_18(high), second, "High")
    other = harness.contact_of(low)
    assert other.id != free.contact_id and other.title == "Edited"
    warning, = [w for w in harness.warnings() if w.kind == "duplicate_email"]
    assert warning.contact_id == other.id and free.contact_id in warning.related_contact_ids
