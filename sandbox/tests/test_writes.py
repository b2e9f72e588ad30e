"""sObject REST writes through simple-salesforce: create, get, update, delete, upsert, describe,
and the errors Salesforce answers (mapped to simple-salesforce's exceptions)."""

from __future__ import annotations

import pytest
from sandbox_org.ids import KEY_PREFIXES, to_18
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)


def test_create_get_update_delete(org, sf):
    created = sf.Lead.create({"LastName": "Lovelace", "FirstName": "Ada", "Company": "Engines",
                              "Email": "ada@engines.io"})
    assert created["success"] is True and created["errors"] == []
    lead_id = created["id"]
    record = sf.Lead.get(lead_id)
    assert record["Name"] == "Ada Lovelace" and record["Status"] == "Open - Not Contacted"
    assert record["IsConverted"] is False and record["attributes"]["type"] == "Lead"
    assert sf.Lead.update(lead_id, {"Title": "Analyst", "Email": None}) == 204
    assert org.get("Lead", lead_id)["Title"] == "Analyst" and org.get("Lead", lead_id)["Email"] is None
    assert sf.Lead.delete(lead_id) == 204
    assert org.get("Lead", lead_id)["IsDeleted"] is True
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.get(lead_id)
    with pytest.raises(SalesforceResourceNotFound) as again:
        sf.Lead.delete(lead_id)
    assert again.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound) as update:
        sf.Lead.update(lead_id, {"Title": "x"})
    assert update.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_create_answers_201(sandbox, sf):
    response = sf.session.post(f"{sf.base_url}sobjects/Account/", headers=sf.headers, json={"Name": "Raw"})
    assert response.status_code == 201


def test_ids_are_18_chars_with_checksum_and_prefix(org, sf):
    ids = {name: sf.__getattr__(name).create(fields)["id"] for name, fields in
           {"Account": {"Name": "A"}, "Contact": {"LastName": "C"}, "Lead": {"LastName": "L", "Company": "C"}}.items()}
    for name, rid in ids.items():
        assert len(rid) == 18 and rid.startswith(KEY_PREFIXES[name]) and to_18(rid[:15]) == rid
    assert len({i[3:15] for i in ids.values()}) == 3
    assert sf.Contact.get(ids["Contact"][:15])["Id"] == ids["Contact"]  # 15-char ids are accepted
    assert sf.Contact.update(ids["Contact"][:15], {"Title": "T"}) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get("003000000000000AAA")
    with pytest.raises(SalesforceMalformedRequest) as malformed:
        sf.Contact.update("not-an-id", {"Title": "x"})
    assert malformed.value.content[0]["errorCode"] == "MALFORMED_ID"


@pytest.mark.parametrize("fields, code, field", [
    ({"FirstName": "No last", "Company": "C"}, "REQUIRED_FIELD_MISSING", "LastName"),
    ({"LastName": "X", "Company": "C", "Favourite__c": "y"}, "INVALID_FIELD", None),
    ({"LastName": "X", "Company": "C", "Name": "Full"}, "INVALID_FIELD_FOR_INSERT_UPDATE", "Name"),
    ({"LastName": "X", "Company": "C", "IsConverted": True}, "INVALID_FIELD_FOR_INSERT_UPDATE", "IsConverted"),
    ({"LastName": "X", "Company": "C", "SystemModstamp": "2024-01-01T00:00:00Z"}, "INVALID_FIELD_FOR_INSERT_UPDATE",
     "SystemModstamp"),
    ({"LastName": "X", "Company": "C", "Email": "not an email"}, "INVALID_EMAIL_ADDRESS", "Email"),
    ({"LastName": "X" * 81, "Company": "C"}, "STRING_TOO_LONG", "LastName"),
    ({"LastName": "X", "Company": "C", "NumberOfEmployees": "many"}, "JSON_PARSER_ERROR", "NumberOfEmployees"),
])
def test_create_errors(sf, fields, code, field):
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.Lead.create(fields)
    body = error.value.content[0]
    assert body["errorCode"] == code
    if field:
        assert body["fields"] == [field]


def test_error_messages_match_salesforce(sf):
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.Lead.create({"LastName": "X", "Company": "C", "Favourite__c": "y"})
    assert error.value.content[0]["message"] == "No such column 'Favourite__c' on sobject of type Lead"
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.Lead.create({})
    assert error.value.content[0]["message"] == "Required fields are missing: [LastName, Company]"


def test_converted_lead_cannot_be_updated(org, sf):
    lead = org.create("Lead", {"LastName": "Conv", "Company": "C"})
    org.convert_lead(lead)
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.Lead.update(lead, {"Title": "x"})
    assert error.value.content == [{"message": "cannot reference converted lead",
                                    "errorCode": "CANNOT_UPDATE_CONVERTED_LEAD"}]


def test_lookup_fields_are_checked(org, sf):
    account = org.create("Account", {"Name": "A"})
    lead = org.create("Lead", {"LastName": "L", "Company": "C"})
    ok = sf.Contact.create({"LastName": "C", "AccountId": account[:15]})
    assert org.get("Contact", ok["id"])["AccountId"] == account
    with pytest.raises(SalesforceMalformedRequest) as wrong_type:
        sf.Contact.create({"LastName": "C", "AccountId": lead})
    assert wrong_type.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Contact.create({"LastName": "C", "AccountId": "001000000000000AAA"})
    assert missing.value.content[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"


def test_upsert_by_external_id(org, sf):
    assert sf.Lead.upsert("Conversion_Id__c/cv-1", {"LastName": "Up", "Company": "Sert"}) == 201
    created = sf.Lead.upsert("Conversion_Id__c/cv-2", {"LastName": "Up2", "Company": "Sert"}, raw_response=True)
    assert created.status_code == 201 and created.json()["created"] is True
    lead_id = created.json()["id"]
    updated = sf.Lead.upsert("Conversion_Id__c/CV-2", {"Title": "Boss"}, raw_response=True)  # case-insensitive
    assert updated.status_code == 200
    assert updated.json() == {"id": lead_id, "success": True, "errors": [], "created": False}
    assert org.get("Lead", lead_id)["Title"] == "Boss"
    assert sf.Lead.get_by_custom_id("Conversion_Id__c", "cv-2")["Id"] == lead_id
    assert org.count("Lead") == 2


def test_upsert_several_matches_and_non_external_field(org, sf):
    org.add_field("Contact", "Legacy_Key__c", external_id=True)  # external id, not unique
    org.create("Contact", {"LastName": "A", "Legacy_Key__c": "k"})
    org.create("Contact", {"LastName": "B", "Legacy_Key__c": "K"})
    with pytest.raises(SalesforceMoreThanOneRecord) as several:
        sf.Contact.upsert("Legacy_Key__c/k", {"Title": "x"})
    assert several.value.status == 300 and len(several.value.content) == 2
    with pytest.raises(SalesforceResourceNotFound) as not_external:
        sf.Contact.upsert("Email/a@b.com", {"LastName": "x"})
    assert not_external.value.content[0]["errorCode"] == "NOT_FOUND"


def test_unique_external_id_rejects_duplicates(org, sf):
    org.create("Contact", {"LastName": "A", "Conversion_Id__c": "dup"})
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.Contact.create({"LastName": "B", "Conversion_Id__c": "DUP"})
    assert error.value.content[0]["errorCode"] == "DUPLICATE_VALUE"


def test_describe_and_global_describe(org, sf):
    org.add_field("Lead", "Score__c", type="double")
    described = sf.Lead.describe()
    fields = {f["name"]: f for f in described["fields"]}
    assert described["name"] == "Lead" and described["keyPrefix"] == "00Q"
    assert fields["Conversion_Id__c"]["externalId"] is True and fields["Conversion_Id__c"]["unique"] is True
    assert fields["Email"]["type"] == "email" and fields["Email"]["length"] == 80
    assert fields["Name"]["createable"] is False and fields["LastName"]["nillable"] is False
    assert fields["ConvertedDate"]["type"] == "date" and fields["SystemModstamp"]["updateable"] is False
    assert fields["Score__c"]["type"] == "double" and fields["Score__c"]["custom"] is True
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert names == {"Account", "Contact", "Lead"}
    assert org.counters()["describe"] == 2


def test_get_with_fields_and_get_updated_deleted(org, sf):
    from datetime import timedelta
    lead = org.create("Lead", {"LastName": "L", "Company": "C", "Email": "l@c.io"})
    assert sf.Lead.get(lead, params={"fields": "Email,Company"}) is not None
    rec = sf.restful(f"sobjects/Lead/{lead}", params={"fields": "Email,Company"})
    assert set(rec) == {"attributes", "Email", "Company"}
    gone = org.create("Lead", {"LastName": "G", "Company": "C"})
    org.delete("Lead", gone)
    start, end = org.now() - timedelta(minutes=5), org.now() + timedelta(minutes=5)
    assert sf.Lead.updated(start, end)["ids"] == [lead]
    deleted = sf.Lead.deleted(start, end)["deletedRecords"]
    assert [d["id"] for d in deleted] == [gone]
