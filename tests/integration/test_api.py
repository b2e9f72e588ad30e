"""The Python API (the "workflow" entry points of P1-P3 and P6)."""

from conversion_sync import api


def test_identify_edit_queue_and_merge_through_the_api(harness, org):
    first = api.identify("api@example.com", traits={"first_name": "Ann"}, user_id="u-api", sync="skip")
    assert first.created and harness.contact(first.contact_id).push_state == "skipped"
    assert api.set_field(first.contact_id, "title", "CEO") is True
    assert api.set_field(first.contact_id, "title", "CEO") is False           # no change, no event
    assert api.push_contacts([first.contact_id], now=False) == [first.contact_id]
    assert harness.contact(first.contact_id).push_state == "queued"
    second = api.identify("api2@example.com", cookie="c-api", sync="skip")
    merged = api.merge_contacts(first.contact_id, second.contact_id)
    assert merged["removed"] == second.contact_id and harness.contact(second.contact_id) is None
    result = api.push_contacts([first.contact_id])                           # now: the push job runs here
    assert result.success and result.steps["salesforce_push"]["created_in_salesforce"] == 1
    assert harness.contact(first.contact_id).salesforce_object == "Lead"
