"""Logins (OAuth 2.0, SOAP), bearer tokens and TLS, as simple-salesforce and requests see them."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce import Salesforce, SalesforceLogin
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession


def test_client_credentials_in_form_and_basic_auth(sandbox):
    session = sandbox.session()
    url = f"{sandbox.instance_url}/services/oauth2/token"
    by_form = session.post(url, data={"grant_type": "client_credentials", "client_id": sandbox.client_id,
                                      "client_secret": sandbox.client_secret})
    by_basic = session.post(url, data={"grant_type": "client_credentials"},
                            auth=(sandbox.client_id, sandbox.client_secret))
    for response in (by_form, by_basic):
        assert response.status_code == 200
        body = response.json()
        assert body["instance_url"] == sandbox.instance_url
        assert body["token_type"] == "Bearer"
        assert {"access_token", "id", "issued_at", "signature"} <= set(body)
    token = by_basic.json()["access_token"]
    sf = Salesforce(instance_url=sandbox.instance_url, session_id=token, session=session)
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


@pytest.mark.parametrize("form, error", [
    ({"grant_type": "client_credentials", "client_id": "nope", "client_secret": "nope"}, "invalid_client"),
    ({"grant_type": "password", "username": "integration@conversion-sandbox.example", "password": "wrong"},
     "invalid_grant"),
    ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
])
def test_oauth_bad_credentials(sandbox, form, error):
    response = sandbox.session().post(f"{sandbox.instance_url}/services/oauth2/token", data=form)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def test_password_grant_with_security_token(sandbox):
    response = sandbox.session().post(f"{sandbox.instance_url}/services/oauth2/token", data={
        "grant_type": "password", "username": sandbox.username,
        "password": sandbox.password + sandbox.security_token,
        "client_id": sandbox.client_id, "client_secret": sandbox.client_secret})
    assert response.status_code == 200
    assert response.json()["access_token"]


def test_soap_login_through_simple_salesforce(sandbox):
    session = sandbox.session()
    session_id, instance = SalesforceLogin(username=sandbox.username, password=sandbox.password,
                                           security_token=sandbox.security_token,
                                           scratch_url=sandbox.instance_url, session=session)
    assert instance == sandbox.instance_url.removeprefix("https://")
    sf = Salesforce(session_id=session_id, instance=instance, session=session)
    lead = sf.Lead.create({"LastName": "Soap", "Company": "Envelope"})
    assert sf.Lead.get(lead["id"])["Company"] == "Envelope"


def test_soap_login_bad_password_is_a_soap_fault(sandbox):
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        SalesforceLogin(username=sandbox.username, password="wrong", security_token=sandbox.security_token,
                        scratch_url=sandbox.instance_url, session=sandbox.session())
    assert failure.value.code == "INVALID_LOGIN"


def test_missing_or_unknown_token_is_401_invalid_session(sandbox):
    session = sandbox.session()
    response = session.get(f"{sandbox.instance_url}/services/data/v59.0/limits/")
    assert response.status_code == 401
    assert response.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    sf = Salesforce(instance_url=sandbox.instance_url, session_id="00Dbogus!AQ", session=session)
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Lead")


def test_expire_tokens_invalidates_sessions_and_reset_restores_the_start_token(sandbox, sf):
    sf.query("SELECT Id FROM Lead")
    sandbox.org.expire_tokens()
    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.query("SELECT Id FROM Lead")
    assert expired.value.content[0]["errorCode"] == "INVALID_SESSION_ID"
    fresh = sandbox.salesforce()  # a new OAuth login works again
    assert fresh.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
    sandbox.org.reset()
    again = sandbox.salesforce(session_id=sandbox.access_token)
    assert again.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_tls_is_verified_against_the_sandbox_ca(sandbox):
    session = requests.Session()
    session.trust_env = False
    session.verify = True  # system trust store only: the sandbox certificate must be rejected
    with pytest.raises(requests.exceptions.SSLError):
        session.get(f"{sandbox.instance_url}/services/data/")
    ok = sandbox.session().get(f"{sandbox.instance_url.replace('127.0.0.1', 'localhost')}/services/data/")
    assert ok.status_code == 200
    assert any(v["version"] == "59.0" for v in ok.json())
