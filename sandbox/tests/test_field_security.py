"""Field-level security in the sandbox org: a field hidden from the integration user is gone
for the API (describe, SOQL over REST and Bulk 2.0, record reads, writes), as in Salesforce,
while Salesforce users (the operator methods) still see and write it."""

from __future__ import annotations

import pytest
from sandbox_org.errors import SandboxError
from simple_salesforce.exceptions import SalesforceMalformedRequest


@pytest.fixture
def admin(sandbox):
    client = sandbox.admin_client()
    yield client
    client.close()


def _error(exc) -> dict:
    return exc.value.content[0]


def test_a_hidden_field_is_left_out_of_describe_and_unknown_to_soql(org, sf):
    person = org.create("Contact", {"LastName": "Hid", "Email": "hid@example.com", "MailingCity": "Paris"})
    assert "MailingCity" in [f["name"] for f in sf.Contact.describe()["fields"]]
    org.hide_field("Contact", "mailingcity")                      # any case, like every field name
    assert org.hidden_fields() == {"Contact": ["MailingCity"]}
    names = [f["name"] for f in sf.Contact.describe()["fields"]]
    assert "MailingCity" not in names and "MailingCountry" in names
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id, MailingCity FROM Contact")
    assert _error(exc)["errorCode"] == "INVALID_FIELD"
    assert "No such column 'MailingCity' on entity 'Contact'" in _error(exc)["message"]
    with pytest.raises(SalesforceMalformedRequest) as exc:          # in WHERE too
        sf.query("SELECT Id FROM Contact WHERE MailingCity = 'Paris'")
    assert _error(exc)["errorCode"] == "INVALID_FIELD"
    assert sf.query("SELECT Id, Email FROM Contact")["totalSize"] == 1   # the rest still answers
    assert "MailingCity" not in sf.Contact.get(person)
    assert org.get("Contact", person)["MailingCity"] == "Paris"      # Salesforce users still see it
    assert org.query("SELECT MailingCity FROM Contact")[0]["MailingCity"] == "Paris"


def test_bulk_queries_and_api_writes_naming_a_hidden_field_fail_like_salesforce(org, sf):
    person = org.create("Contact", {"LastName": "Hid", "Email": "hid@example.com"})
    org.hide_field("Contact", "MailingCity")
    with pytest.raises(SalesforceMalformedRequest) as exc:
        list(sf.bulk2.Contact.query("SELECT Id, MailingCity FROM Contact", max_records=100))
    assert _error(exc)["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.update(person, {"MailingCity": "Rome"})
    assert _error(exc)["errorCode"] == "INVALID_FIELD"
    assert _error(exc)["message"] == "No such column 'MailingCity' on sobject of type Contact"
    with pytest.raises(SalesforceMalformedRequest):
        sf.Contact.create({"LastName": "New", "MailingCity": "Rome"})
    results = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Contact"}, "id": person, "MailingCity": "Rome"},
        {"attributes": {"type": "Contact"}, "id": person, "Title": "Ok"}]})
    assert results[0]["success"] is False and results[0]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert results[1]["success"] is True
    assert org.get("Contact", person)["MailingCity"] is None and org.get("Contact", person)["Title"] == "Ok"
    org.update("Contact", person, {"MailingCity": "Oslo"})          # a Salesforce user still writes it
    assert org.get("Contact", person)["MailingCity"] == "Oslo"


def test_showing_the_field_again_restores_it_and_reset_clears_it(org, sf):
    org.hide_field("Contact", "MailingCity")
    org.show_field("Contact", "MailingCity")
    assert "MailingCity" in [f["name"] for f in sf.Contact.describe()["fields"]]
    assert sf.query("SELECT MailingCity FROM Contact")["totalSize"] == 0
    org.hide_field("Lead", "City")
    org.reset()
    assert org.hidden_fields() == {}


def test_required_and_system_fields_cannot_be_hidden(org):
    for field in ("LastName", "Id", "SystemModstamp"):
        with pytest.raises(SandboxError) as exc:
            org.hide_field("Contact", field)
        assert exc.value.code == "INVALID_OPERATION"
    with pytest.raises(SandboxError) as exc:
        org.hide_field("Contact", "Nope__c")
    assert exc.value.code == "INVALID_FIELD"


def test_hiding_works_over_the_admin_api(admin, sf):
    admin.hide_field("Lead", "City")
    assert admin.hidden_fields() == {"Lead": ["City"]}
    assert "City" not in [f["name"] for f in sf.Lead.describe()["fields"]]
    admin.show_field("Lead", "City")
    assert admin.hidden_fields() == {}
