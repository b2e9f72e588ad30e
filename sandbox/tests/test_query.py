"""SOQL query/queryAll over REST: paging, batch sizes, totals, deleted rows, cursor snapshots."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def _seed_contacts(org, n, start=T0):
    return org.seed("Contact", [{"LastName": f"Last{i:05d}", "Email": f"c{i}@example.com",
                                 "SystemModstamp": start + timedelta(seconds=i),
                                 "CreatedDate": start - timedelta(days=1)} for i in range(n)])


def test_pages_of_2000_with_next_records_url_and_total_size(org, sf):
    ids = _seed_contacts(org, 4500)
    first = sf.query("SELECT Id, Email FROM Contact ORDER BY SystemModstamp, Id")
    assert first["totalSize"] == 4500
    assert first["done"] is False
    assert len(first["records"]) == 2000
    assert re.fullmatch(r"/services/data/v59\.0/query/0r8[A-Za-z0-9]{15}-2000", first["nextRecordsUrl"])
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert (len(second["records"]), len(third["records"])) == (2000, 500)
    assert third["done"] is True and "nextRecordsUrl" not in third
    got = [r["Id"] for page in (first, second, third) for r in page["records"]]
    assert got == ids
    record = first["records"][0]
    assert record["attributes"] == {"type": "Contact", "url": f"/services/data/v59.0/sobjects/Contact/{ids[0]}"}
    assert list(record) == ["attributes", "Id", "Email"]


def test_batch_size_header_and_query_all_iter(org, sf):
    _seed_contacts(org, 950)
    page = sf.query("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=300"})
    assert len(page["records"]) == 300 and page["nextRecordsUrl"].endswith("-300")
    records = list(sf.query_all_iter("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=200"}))
    assert len(records) == 950
    assert org.counters()["query_more"] == 4  # 950 rows in pages of 200 = 1 query + 4 query_more
    tiny = sf.query("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=5"})
    assert len(tiny["records"]) == 200  # Salesforce's minimum batch size


def test_query_more_by_locator_id(org, sf):
    _seed_contacts(org, 2100)
    first = sf.query("SELECT Id FROM Contact")
    locator = first["nextRecordsUrl"].rsplit("/", 1)[1]
    assert len(sf.query_more(locator)["records"]) == 100


def test_query_excludes_deleted_and_query_all_includes_them(org, sf):
    keep = org.create("Lead", {"LastName": "Keep", "Company": "A"})
    gone = org.create("Lead", {"LastName": "Gone", "Company": "A"})
    master = org.create("Lead", {"LastName": "Master", "Company": "A"})
    loser = org.create("Lead", {"LastName": "Loser", "Company": "A"})
    org.delete("Lead", gone)
    org.merge("Lead", master, [loser])
    live = {r["Id"] for r in sf.query("SELECT Id FROM Lead")["records"]}
    assert live == {keep, master}
    everything = {r["Id"]: r for r in sf.query_all("SELECT Id, IsDeleted, MasterRecordId FROM Lead",
                                                    include_deleted=True)["records"]}
    assert set(everything) == {keep, gone, master, loser}
    assert everything[gone]["IsDeleted"] is True and everything[gone]["MasterRecordId"] is None
    assert everything[loser]["MasterRecordId"] == master
    assert sf.query("SELECT COUNT() FROM Lead", include_deleted=True)["totalSize"] == 4


def test_query_all_paging_keeps_query_in_the_url(org, sf):
    ids = _seed_contacts(org, 2500)
    for rid in ids[:10]:
        org.delete("Contact", rid)
    first = sf.query("SELECT Id FROM Contact", include_deleted=True)
    assert "/query/" in first["nextRecordsUrl"] and first["totalSize"] == 2500
    assert len(list(sf.query_all_iter("SELECT Id FROM Contact", include_deleted=True))) == 2500
    assert len(list(sf.query_all_iter("SELECT Id FROM Contact"))) == 2490


def test_cursor_is_a_snapshot_taken_at_query_time(org, sf):
    ids = _seed_contacts(org, 2300)
    first = sf.query("SELECT Id, Email FROM Contact ORDER BY SystemModstamp, Id")
    org.update("Contact", ids[2100], {"Email": "changed@example.com"})
    org.delete("Contact", ids[2200])
    org.create("Contact", {"LastName": "Newcomer"})
    rest = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)["records"]
    assert len(rest) == 300
    by_id = {r["Id"]: r["Email"] for r in rest}
    assert by_id[ids[2100]] == "c2100@example.com" and ids[2200] in by_id


def test_count_and_values(org, sf):
    acct = org.create("Account", {"Name": "Acme", "NumberOfEmployees": 42})
    org.create("Contact", {"LastName": "Zed", "AccountId": acct})
    assert sf.query("SELECT COUNT() FROM Contact") == {"totalSize": 1, "done": True, "records": []}
    row = sf.query("SELECT Id, NumberOfEmployees, IsDeleted, Website, CreatedDate FROM Account")["records"][0]
    assert row["NumberOfEmployees"] == 42 and row["IsDeleted"] is False and row["Website"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", row["CreatedDate"])
    agg = sf.query("SELECT COUNT(Id) total FROM Contact")
    assert agg["records"][0]["total"] == 1


def test_unknown_locator_is_rejected(sf):
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.query_more("/services/data/v59.0/query/0r8000000000000AAA-2000", identifier_is_url=True)
    assert error.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_limit_and_offset_page(org, sf):
    ids = _seed_contacts(org, 30)
    got = sf.query("SELECT Id FROM Contact ORDER BY SystemModstamp LIMIT 5 OFFSET 10")
    assert [r["Id"] for r in got["records"]] == ids[10:15] and got["totalSize"] == 5
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.query("SELECT Id FROM Contact OFFSET 2001")
    assert error.value.content[0]["errorCode"] == "NUMBER_OUTSIDE_VALID_RANGE"
