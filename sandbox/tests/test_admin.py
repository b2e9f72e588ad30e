"""The admin HTTP API through `SandboxAdminClient`, against the in-process server: the same
operations as `SandboxOrg`, with the same results and errors."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import requests
from sandbox_org.admin_client import SandboxAdminClient
from sandbox_org.errors import SandboxError
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceGeneralError, SalesforceMalformedRequest


@pytest.fixture
def admin(sandbox):
    client = sandbox.admin_client()
    yield client
    client.close()


def test_records_clock_and_lifecycle_over_http(admin, org, sf):
    admin.set_clock(datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC))
    lead = admin.create("Lead", {"LastName": "Admin", "Company": "Ops", "Email": "a@ops.io"})
    got = admin.get("Lead", lead)
    assert got == org.get("Lead", lead)
    assert isinstance(got["CreatedDate"], datetime) and got["CreatedDate"].year == 2031
    admin.update("Lead", lead[:15], {"Title": "Boss"})
    assert sf.Lead.get(lead)["Title"] == "Boss"
    result = admin.convert_lead(lead)
    assert admin.get("Lead", lead)["ConvertedDate"] == date(2031, 3, 4)
    assert admin.get("Contact", result["contact_id"])["Email"] == "a@ops.io"
    ids = admin.seed("Account", [{"Name": "S1", "CreatedDate": datetime(2030, 1, 1, tzinfo=UTC)},
                                 {"Name": "S2"}])
    admin.merge("Account", ids[0], [ids[1]])
    assert admin.get("Account", ids[1])["MasterRecordId"] == ids[0]
    assert admin.count("Account") == 2 and admin.count("Account", include_deleted=True) == 3
    admin.touch_system("Account", ids[0])
    late = admin.late_commit("Contact", fields={"LastName": "Late"}, seconds_ago=90)
    assert (admin.now() - admin.get("Contact", late)["SystemModstamp"]).total_seconds() >= 89
    admin.delete("Contact", late)
    admin.undelete("Contact", late)
    assert admin.query(f"SELECT LastName FROM Contact WHERE Id = '{late}'") == [{"LastName": "Late"}]
    admin.advance_clock(60)
    admin.use_real_clock()
    assert admin.now().year == datetime.now(UTC).year


def test_usage_faults_and_schema_over_http(admin, org, sf):
    sf.query("SELECT Id FROM Lead")
    assert admin.api_usage() == (1, 15000) and admin.counters()["query"] == 1
    admin.set_api_limit(100)
    admin.set_api_usage(40)
    assert org.api_usage() == (40, 100)
    admin.reset_counters()
    assert admin.counters()["total"] == 0
    admin.inject_fault("http_503", path="/query", times=1)
    with pytest.raises(SalesforceGeneralError) as unavailable:
        sf.query("SELECT Id FROM Lead")
    assert unavailable.value.status == 503
    admin.inject_fault("timeout", path="/limits", seconds=0.01, apply=True)
    sf.limits()
    admin.clear_faults()
    admin.add_field("Contact", "Tier__c", type="picklist")
    admin.add_validation_rule("Contact", "Tier__c", "^bad$", "Bad tier")
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.Contact.create({"LastName": "X", "Tier__c": "bad"})
    assert error.value.content[0]["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    contact = admin.create("Contact", {"LastName": "L"})
    admin.lock_record(contact)
    with pytest.raises(SalesforceMalformedRequest) as locked:
        sf.Contact.update(contact, {"Title": "x"})
    assert locked.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    creds = admin.credentials()
    assert creds["client_id"] == org.auth.client_id
    admin.expire_tokens()
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Lead")
    token = admin.issue_token()
    assert org.auth.is_valid(token)
    admin.reset()
    assert org.count("Contact") == 0 and org.api_usage() == (0, 15000)


def test_errors_come_back_as_sandbox_errors(admin):
    with pytest.raises(SandboxError) as missing:
        admin.create("Lead", {"LastName": "no company"})
    assert missing.value.code == "REQUIRED_FIELD_MISSING" and missing.value.fields == ["Company"]
    with pytest.raises(SandboxError) as bad_args:
        admin._call("create", sobject="Lead")
    assert bad_args.value.code == "INVALID_ARGUMENT"
    with pytest.raises(SandboxError) as unknown:
        admin.inject_fault("nope")
    assert unknown.value.code == "INVALID_ARGUMENT"
    assert admin.get("Lead", "00Q000000000000AAA") is None


def test_admin_token_is_required(sandbox):
    wrong = SandboxAdminClient(sandbox.instance_url, "wrong-token", sandbox.ca_path)
    with pytest.raises(SandboxError) as error:
        wrong.counters()
    assert error.value.code == "INVALID_ADMIN_TOKEN" and error.value.status == 401
    api_token = requests.Session()
    api_token.verify, api_token.trust_env = sandbox.ca_path, False
    response = api_token.post(f"{sandbox.instance_url}/sandbox/admin/reset",
                              headers={"Authorization": f"Bearer {sandbox.access_token}"}, json={})
    assert response.status_code == 401


def test_admin_calls_do_not_hit_faults_or_limits(admin, org):
    org.inject_fault("http_500", times=None)
    org.set_api_limit(0)
    assert admin.count("Lead") == 0
    assert org.counters()["total"] == 0
