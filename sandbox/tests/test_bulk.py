"""Bulk API 2.0 through simple-salesforce's `sf.bulk2`: query jobs with locators, ingest jobs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceMalformedRequest

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def _rows(pages):
    rows = []
    for page in pages:
        rows.extend(csv.DictReader(io.StringIO(page)))
    return rows


def test_query_job_pages_with_locators(org, sf):
    ids = org.seed("Contact", [{"LastName": f"L{i}", "Email": None if i % 2 else f"e{i}@x.io",
                                "SystemModstamp": T0 + timedelta(seconds=i)} for i in range(25)])
    pages = list(sf.bulk2.Contact.query("SELECT Id, Email, SystemModstamp, IsDeleted FROM Contact "
                                        "ORDER BY SystemModstamp", max_records=10, wait=0))
    assert len(pages) == 3
    rows = _rows(pages)
    assert [r["Id"] for r in rows] == ids
    assert rows[0]["Email"] == "e0@x.io" and rows[1]["Email"] == ""
    assert rows[0]["SystemModstamp"] == "2024-05-01T12:00:00.000Z" and rows[0]["IsDeleted"] == "false"
    assert pages[0].splitlines()[0] == '"Id","Email","SystemModstamp","IsDeleted"'


def test_query_all_job_includes_deleted(org, sf):
    keep = org.create("Lead", {"LastName": "K", "Company": "C"})
    gone = org.create("Lead", {"LastName": "G", "Company": "C"})
    org.delete("Lead", gone)
    live = _rows(sf.bulk2.Lead.query("SELECT Id FROM Lead", wait=0))
    everything = _rows(sf.bulk2.Lead.query_all("SELECT Id, IsDeleted FROM Lead", wait=0))
    assert [r["Id"] for r in live] == [keep]
    assert {r["Id"]: r["IsDeleted"] for r in everything} == {keep: "false", gone: "true"}
    assert org.counters()["bulk_query"] >= 6  # create, poll, results for each job
    assert sf.limits()["DailyBulkV2QueryJobs"]["Remaining"] == 10000 - 2


def test_results_before_completion_is_412(org, sf):
    job = sf.restful("jobs/query", method="POST", json={"operation": "query", "query": "SELECT Id FROM Lead"})
    with pytest.raises(SalesforceGeneralError) as error:
        sf.restful(f"jobs/query/{job['id']}/results")
    assert error.value.status == 412 and error.value.content[0]["errorCode"] == "JOB_NOT_COMPLETE"
    assert sf.restful(f"jobs/query/{job['id']}")["state"] == "JobComplete"
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("jobs/query", method="POST", json={"operation": "query", "query": "SELECT Nope FROM Lead"})


def test_ingest_insert_update_upsert_delete(org, sf):
    inserted = sf.bulk2.Contact.insert(records=[{"LastName": "A", "Email": "a@x.io"}, {"LastName": "B"},
                                                {"Email": "no-last-name@x.io"}], wait=0)
    assert inserted[0]["numberRecordsProcessed"] == 3 and inserted[0]["numberRecordsFailed"] == 1
    job_id = inserted[0]["job_id"]
    ok = list(csv.DictReader(io.StringIO(sf.bulk2.Contact.get_successful_records(job_id))))
    failed = list(csv.DictReader(io.StringIO(sf.bulk2.Contact.get_failed_records(job_id))))
    assert [r["sf__Created"] for r in ok] == ["true", "true"] and {r["LastName"] for r in ok} == {"A", "B"}
    assert failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]")
    a_id = next(r["sf__Id"] for r in ok if r["LastName"] == "A")
    b_id = next(r["sf__Id"] for r in ok if r["LastName"] == "B")
    sf.bulk2.Contact.update(records=[{"Id": a_id, "Title": "CTO", "Email": ""}, {"Id": b_id, "Email": "#N/A"}], wait=0)
    assert org.get("Contact", a_id)["Title"] == "CTO" and org.get("Contact", a_id)["Email"] == "a@x.io"
    upserted = sf.bulk2.Contact.upsert(records=[{"Conversion_Id__c": "z1", "LastName": "Z"}],
                                       external_id_field="Conversion_Id__c", wait=0)
    assert upserted[0]["numberRecordsFailed"] == 0
    assert org.query("SELECT LastName FROM Contact WHERE Conversion_Id__c = 'Z1'") == [{"LastName": "Z"}]
    sf.bulk2.Contact.delete(records=[{"Id": a_id}, {"Id": b_id}], wait=0)
    assert org.count("Contact") == 1
    assert org.counters()["bulk_ingest"] > 0
