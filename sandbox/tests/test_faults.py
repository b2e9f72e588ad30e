"""Injected faults, row locks and validation rules, as simple-salesforce and requests see them."""

from __future__ import annotations

import pytest
import requests
from sandbox_org.errors import SandboxError
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)


@pytest.mark.parametrize("kind, exception, status, code", [
    ("http_500", SalesforceGeneralError, 500, "UNKNOWN_EXCEPTION"),
    ("http_503", SalesforceGeneralError, 503, "SERVER_UNAVAILABLE"),
    ("expired_session", SalesforceExpiredSession, 401, "INVALID_SESSION_ID"),
    ("request_limit", SalesforceRefusedRequest, 403, "REQUEST_LIMIT_EXCEEDED"),
    ("lock_row", SalesforceMalformedRequest, 400, "UNABLE_TO_LOCK_ROW"),
])
def test_error_faults_are_not_applied_and_wear_off(org, sf, kind, exception, status, code):
    org.inject_fault(kind, path=r"/sobjects/Lead/?$", method="POST", times=1)
    sf.query("SELECT Id FROM Lead")  # other paths are unaffected
    with pytest.raises(exception) as error:
        sf.Lead.create({"LastName": "F", "Company": "C"})
    assert error.value.status == status and error.value.content[0]["errorCode"] == code
    assert org.count("Lead") == 0
    sf.Lead.create({"LastName": "F", "Company": "C"})
    assert org.count("Lead") == 1


def test_fault_counts_and_clear(org, sf):
    org.inject_fault("http_503", path="/query", times=2)
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError):
            sf.query("SELECT Id FROM Lead")
    sf.query("SELECT Id FROM Lead")
    org.inject_fault("http_500", times=None)
    with pytest.raises(SalesforceGeneralError):
        sf.query("SELECT Id FROM Lead")
    org.clear_faults()
    sf.query("SELECT Id FROM Lead")
    with pytest.raises(SandboxError):
        org.inject_fault("meteor_strike")


def test_timeout_applies_the_write_then_answers_late(org, sf):
    org.inject_fault("timeout", path="/sobjects/Contact", seconds=0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        sf.restful("sobjects/Contact/", method="POST", json={"LastName": "Slow"}, timeout=0.2)
    assert org.count("Contact") == 1
    org.inject_fault("timeout", path="/sobjects/Contact", seconds=0.3, apply=False)
    with pytest.raises(requests.exceptions.ReadTimeout):
        sf.restful("sobjects/Contact/", method="POST", json={"LastName": "Lost"}, timeout=0.1)
    assert org.count("Contact") == 1
    org.inject_fault("timeout", path="/query", seconds=0.2)
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 1  # a patient client gets its answer


def test_drop_after_write_applies_then_hangs_up(org, sf):
    org.inject_fault("drop_after_write", path="/composite/sobjects", method="POST")
    with pytest.raises(requests.exceptions.ConnectionError):
        sf.restful("composite/sobjects", method="POST",
                   json={"records": [{"attributes": {"type": "Contact"}, "LastName": "Once"}]})
    assert org.count("Contact") == 1
    assert sf.query("SELECT LastName FROM Contact")["records"][0]["LastName"] == "Once"


def test_lock_record_fails_the_next_writes(org, sf):
    contact = org.create("Contact", {"LastName": "Locked"})
    other = org.create("Contact", {"LastName": "Free"})
    org.lock_record(contact, times=2)
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.Contact.update(contact, {"Title": "x"})
    assert error.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    results = sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Contact"}, "id": contact, "Title": "y"},
        {"attributes": {"type": "Contact"}, "id": other, "Title": "y"}]})
    assert results[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW" and results[1]["success"] is True
    assert sf.Contact.update(contact, {"Title": "z"}) == 204


def test_validation_rule(org, sf):
    org.add_validation_rule("Contact", "Email", r"@blocked\.example$", "Blocked domain")
    with pytest.raises(SalesforceMalformedRequest) as error:
        sf.Contact.create({"LastName": "V", "Email": "x@blocked.example"})
    assert error.value.content == [{"message": "Blocked domain", "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                    "fields": ["Email"]}]
    results = sf.restful("composite/sobjects", method="POST", json={"records": [
        {"attributes": {"type": "Contact"}, "LastName": "ok", "Email": "x@fine.example"},
        {"attributes": {"type": "Contact"}, "LastName": "bad", "Email": "y@blocked.example"}]})
    assert results[0]["success"] is True
    assert results[1]["errors"] == [{"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "Blocked domain",
                                     "fields": ["Email"]}]


def test_faults_hit_login_endpoints_too(sandbox, org):
    org.inject_fault("http_503", path="/services/oauth2/token")
    with pytest.raises(requests.exceptions.HTTPError):
        sandbox.login()
    assert sandbox.login()
