"""sObject Collections through `sf.restful`: create, update, retrieve, delete, upsert; allOrNone."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest


def _contacts(*names, **extra):
    return [{"attributes": {"type": "Contact"}, "LastName": n, **extra} for n in names]


def test_create_in_input_order_with_per_record_errors(org, sf):
    records = [*_contacts("A", "B"), {"attributes": {"type": "Contact"}, "FirstName": "no last name"}]
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})
    assert [r["success"] for r in results] == [True, True, False]
    assert results[2] == {"success": False, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING",
                                                        "message": "Required fields are missing: [LastName]",
                                                        "fields": ["LastName"]}]}
    assert [org.get("Contact", r["id"])["LastName"] for r in results[:2]] == ["A", "B"]
    assert org.counters()["collections_create"] == 1


def test_all_or_none_rolls_everything_back(org, sf):
    records = [*_contacts("A", "B"), {"attributes": {"type": "Contact"}, "Bogus__c": 1}]
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})
    assert org.count("Contact") == 0
    assert [r["errors"][0]["statusCode"] for r in results] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK", "ALL_OR_NONE_OPERATION_ROLLED_BACK", "INVALID_FIELD"]
    assert all(r["success"] is False for r in results)


def test_update_all_or_none_false_and_true(org, sf):
    a = org.create("Contact", {"LastName": "A"})
    b = org.create("Contact", {"LastName": "B"})
    gone = org.create("Contact", {"LastName": "Gone"})
    org.delete("Contact", gone)
    batch = [{"attributes": {"type": "Contact"}, "id": a, "Title": "T1"},
             {"attributes": {"type": "Contact"}, "id": gone, "Title": "T2"},
             {"attributes": {"type": "Contact"}, "id": b, "LastName": None}]
    results = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": batch})
    assert results[0] == {"id": a, "success": True, "errors": []}
    assert results[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED" and results[1]["id"] == gone
    assert results[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert org.get("Contact", a)["Title"] == "T1"
    batch[0]["Title"] = "T3"
    results = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": True, "records": batch})
    assert org.get("Contact", a)["Title"] == "T1"  # rolled back
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"


def test_one_request_is_one_transaction_timestamp(org, sf):
    ids = [org.create("Contact", {"LastName": n}) for n in "ABC"]
    sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Contact"}, "id": i, "Title": "same"} for i in ids]})
    stamps = {org.get("Contact", i)["SystemModstamp"] for i in ids}
    assert len(stamps) == 1


def test_retrieve_and_delete(org, sf):
    a = org.create("Contact", {"LastName": "A", "Email": "a@x.io"})
    b = org.create("Contact", {"LastName": "B"})
    got = sf.restful("composite/sobjects/Contact", params={"ids": f"{a},{b[:15]},003000000000000AAA",
                                                            "fields": "Id,Email"})
    assert got[0]["Email"] == "a@x.io" and got[1]["Id"] == b and got[2] is None
    assert list(got[0]) == ["attributes", "Id", "Email"]
    results = sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{a},{b}", "allOrNone": "false"})
    assert results == [{"id": a, "success": True, "errors": []}, {"id": b, "success": True, "errors": []}]
    assert org.count("Contact") == 0 and org.count("Contact", include_deleted=True) == 2
    again = sf.restful("composite/sobjects", method="DELETE", params={"ids": a})
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    counters = org.counters()
    assert counters["collections_get"] == 1 and counters["collections_delete"] == 2


def test_delete_all_or_none_rolls_back(org, sf):
    a = org.create("Contact", {"LastName": "A"})
    gone = org.create("Contact", {"LastName": "Gone"})
    org.delete("Contact", gone)
    results = sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{a},{gone}", "allOrNone": "true"})
    assert results[0] == {"id": a, "success": False, "errors": [{
        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
        "fields": []}]}
    assert results[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert org.get("Contact", a)["IsDeleted"] is False


def test_more_than_200_records_is_refused(org, sf):
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.restful("composite/sobjects", method="POST", json={"records": _contacts(*["x"] * 201)})
    assert error.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert org.count("Contact") == 0
    results = sf.restful("composite/sobjects", method="POST", json={"records": _contacts(*["x"] * 200)})
    assert len(results) == 200 and org.count("Contact") == 200


def test_collections_upsert(org, sf):
    existing = org.create("Lead", {"LastName": "Old", "Company": "C", "Conversion_Id__c": "k1"})
    records = [{"attributes": {"type": "Lead"}, "Conversion_Id__c": "K1", "Title": "Updated"},
               {"attributes": {"type": "Lead"}, "Conversion_Id__c": "k2", "LastName": "New", "Company": "C"}]
    results = sf.restful("composite/sobjects/Lead/Conversion_Id__c", method="PATCH",
                         json={"allOrNone": False, "records": records})
    assert results[0]["id"] == existing and results[0]["created"] is False
    assert results[1]["created"] is True and org.get("Lead", results[1]["id"])["Conversion_Id__c"] == "k2"
    assert org.get("Lead", existing)["Title"] == "Updated"
