"""Bulk API 2.0 under the same call policy as every other request (SPEC §4, H2): a transient
failure of one step of a job (create, poll, a results page, an upload) repeats that request only,
an expired session in the middle of a job logs in again and carries on with the same job, and
what the retries cannot cure ends with one sentence. A first sync of a large org is one long Bulk
job per object: a single 503 must not throw it away. Also: a field cleared in Conversion and pushed
over Bulk API 2.0 is cleared in Salesforce (#N/A; an empty CSV field would leave it as it was).
Against the sandbox org over HTTPS, through the real client and the real sync job."""

from __future__ import annotations

import pytest

from conversion_sync.config import load_sync_settings
from conversion_sync.errors import SalesforceApiError
from conversion_sync.resources.salesforce import SalesforceResource
from conversion_sync.store.editing import set_contact_field
from tests.integration.harness import utcnow

QUERY = "SELECT Id, Email FROM Contact ORDER BY Id"


def client():
    return SalesforceResource(backoff_seconds=0.01).client()


def seed_contacts(org, count=5):
    return [org.create("Contact", {"LastName": f"C{i}", "Email": f"c{i}@example.com"}) for i in range(count)]


@pytest.mark.parametrize(("kind", "path", "method"), [
    ("http_503", r"/jobs/query$", "POST"),            # creating the job
    ("http_500", r"/jobs/query/[^/]+$", "GET"),       # polling it
    ("http_503", r"/results$", "GET"),                # its first page
    ("lock_row", r"/jobs/query$", "POST"),
    ("expired_session", r"/results$", "GET"),
])
def test_a_transient_failure_of_one_bulk_step_repeats_that_step_and_the_sync_completes(
        harness, org, sync_config, kind, path, method):
    sync_config("bulk_query_threshold: 1\n")
    seed_contacts(org)
    org.inject_fault(kind, path=path, method=method, times=1)
    result = harness.pull()
    assert result["api_calls"]["bulk_query"] > 0
    assert sorted(c.email for c in harness.contacts()) == [f"c{i}@example.com" for i in range(5)]
    assert org.faults.describe() == []                          # the fault was met (and consumed)


def test_a_failure_on_a_later_page_repeats_that_page_not_the_job(sandbox, org):
    ids = sorted(seed_contacts(org, 7))
    sf = client()
    pages = sf.bulk_query_pages("Contact", QUERY, page_size=3)
    first = next(pages)
    org.inject_fault("http_503", path=r"/results$", method="GET", times=2)
    org.expire_tokens()                                # and the session expires mid-job
    rest = [record for page in pages for record in page]
    assert [r["Id"] for r in first + rest] == ids      # every record once, in order
    assert len(org.jobs) == 1                          # the same job carried on
    assert org.faults.describe() == []


def test_the_job_is_created_once_even_when_pages_fail(sandbox, org):
    seed_contacts(org, 7)
    sf = client()
    org.inject_fault("http_503", path=r"/results$", method="GET", times=3)
    records = [r for page in sf.bulk_query_pages("Contact", QUERY, page_size=2) for r in page]
    assert len(records) == 7
    assert len(org.jobs) == 1
    assert org.usage.bulk_query_jobs == 1


def test_a_persistent_503_on_a_bulk_page_is_one_sentence_naming_the_step(sandbox, org):
    seed_contacts(org)
    org.inject_fault("http_503", path=r"/results$", method="GET", times=None)
    with pytest.raises(SalesforceApiError) as error:
        list(client().bulk_query_pages("Contact", QUERY))
    message = str(error.value)
    assert "503" in message and "Bulk API query of Contact" in message and "attempts" in message
    assert "\n" not in message


@pytest.mark.parametrize(("kind", "path", "method"), [
    (None, "", None),
    ("http_503", r"/jobs/ingest$", "POST"),
    ("http_503", r"/batches$", "PUT"),                 # the upload: 503 = not applied, so repeated
    ("http_500", r"/jobs/ingest/[^/]+$", "PATCH"),     # closing it
])
def test_a_bulk_push_survives_a_transient_failure_and_clears_a_field_cleared_in_conversion(
        harness, org, sync_config, kind, path, method):
    sync_config("bulk_ingest_threshold: 1\n"
                "fields:\n  title: {salesforce: Title, preference: two_way}\n"
                "  first_name: {salesforce: FirstName, preference: two_way}\n")
    ids = [org.create("Lead", {"FirstName": "Old", "LastName": "L", "Company": "X", "Title": "Buyer",
                               "Email": f"bulk{i}@example.com"}) for i in range(3)]
    harness.cycle()
    contacts = [harness.contact_of(i) for i in ids]
    settings = load_sync_settings()
    with harness.engine.begin() as conn:
        for contact in contacts:
            set_contact_field(conn, settings.custom_fields, contact.id, "title", None, now=utcnow())
            set_contact_field(conn, settings.custom_fields, contact.id, "first_name", "New", now=utcnow())
    org.reset_counters()
    if kind:
        org.inject_fault(kind, path=path, method=method, times=1)
    pushed = harness.cycle()
    assert pushed.steps["salesforce_push"]["updated_in_salesforce"] == 3
    assert org.faults.describe() == []
    for lead_id in ids:
        lead = org.get("Lead", lead_id)
        assert (lead["FirstName"], lead["Title"]) == ("New", None)
    again = harness.cycle()                            # settled: nothing more to send
    assert again.steps["salesforce_push"].get("updated_in_salesforce", 0) == 0


def test_a_bulk_push_sends_each_record_only_its_own_fields_and_never_reverts_a_newer_salesforce_edit(
        harness, org, sync_config):
    """R5/P5: one upload has one set of columns. Lead A sends FirstName, Lead B sends Title; B's row
    must leave FirstName empty (unchanged), not carry the mirror's copy over the Salesforce user's
    newer edit of it."""
    sync_config("bulk_ingest_threshold: 1\n"
                "fields:\n  title: {salesforce: Title, preference: two_way}\n"
                "  first_name: {salesforce: FirstName, preference: two_way}\n")
    a_id, b_id = (org.create("Lead", {"FirstName": "Old", "LastName": "L", "Company": "X", "Title": "Buyer",
                                      "Email": f"own{i}@example.com"}) for i in range(2))
    harness.cycle()
    a, b = harness.contact_of(a_id), harness.contact_of(b_id)
    settings = load_sync_settings()
    with harness.engine.begin() as conn:
        set_contact_field(conn, settings.custom_fields, a.id, "first_name", "Ann", now=utcnow())
        set_contact_field(conn, settings.custom_fields, b.id, "title", "CTO", now=utcnow())
    org.update("Lead", b_id, {"FirstName": "Bea"})     # a Salesforce user, after our last pull
    pushed = harness.push()
    assert pushed["updated_in_salesforce"] == 2 and pushed["call:bulk_ingest"] > 0
    assert (org.get("Lead", a_id)["FirstName"], org.get("Lead", a_id)["Title"]) == ("Ann", "Buyer")
    assert (org.get("Lead", b_id)["FirstName"], org.get("Lead", b_id)["Title"]) == ("Bea", "CTO")
    harness.cycle()                                     # and the edit reaches Conversion (R5)
    assert (harness.contact(b.id).first_name, harness.contact(b.id).title) == ("Bea", "CTO")
