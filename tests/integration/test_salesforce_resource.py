"""The Salesforce resource against a real HTTPS endpoint (the sandbox org): the three auth modes
of SPEC §4, re-authentication, TLS verification with SALESFORCE_CA_BUNDLE over this machine's
REQUESTS_CA_BUNDLE, retries, API-call counting, and errors that name the setting and no secret."""

import logging
import os
import subprocess
import sys

import pytest

from conversion_sync.errors import SalesforceConnectionError
from conversion_sync.resources.salesforce import SalesforceResource


def client(**overrides):
    return SalesforceResource(backoff_seconds=0.01).client()


def test_client_credentials(sandbox, org):
    org.create("Lead", {"LastName": "A", "Company": "X", "Email": "a@example.com"})
    assert [r["Email"] for r in client().query("SELECT Email FROM Lead")] == ["a@example.com"]


def test_access_token(sandbox, monkeypatch):
    for name in ("SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", sandbox.access_token)
    assert client().count("SELECT COUNT() FROM Lead") == 0


def test_username_password_and_security_token_by_soap_login(sandbox, monkeypatch):
    for name in ("SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("SALESFORCE_USERNAME", sandbox.username)
    monkeypatch.setenv("SALESFORCE_PASSWORD", sandbox.password)
    monkeypatch.setenv("SALESFORCE_SECURITY_TOKEN", sandbox.security_token)
    assert client().count("SELECT COUNT() FROM Contact") == 0


def test_username_password_with_a_connected_app_uses_the_password_grant(sandbox, monkeypatch):
    monkeypatch.setenv("SALESFORCE_USERNAME", sandbox.username)
    monkeypatch.setenv("SALESFORCE_PASSWORD", sandbox.password)
    monkeypatch.setenv("SALESFORCE_SECURITY_TOKEN", sandbox.security_token)
    assert client().count("SELECT COUNT() FROM Account") == 0


@pytest.mark.parametrize("variable", ["SALESFORCE_CLIENT_SECRET", "SALESFORCE_PASSWORD"])
def test_wrong_credentials_say_what_to_check_without_the_secret(sandbox, monkeypatch, variable):
    if variable == "SALESFORCE_PASSWORD":
        for name in ("SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"):
            monkeypatch.delenv(name)
        monkeypatch.setenv("SALESFORCE_USERNAME", sandbox.username)
    monkeypatch.setenv(variable, "wrong-secret-value-123")
    with pytest.raises(SalesforceConnectionError) as error:
        client()
    assert variable in str(error.value) and "wrong-secret-value-123" not in str(error.value)


def test_reauthentication_on_an_expired_session(sandbox, org):
    sf = client()
    org.expire_tokens()
    assert sf.count("SELECT COUNT() FROM Lead") == 0          # logged in again, transparently
    assert sf.usage.calls["query"] == 2                       # the refused request, then the retry


def test_the_ca_bundle_wins_over_requests_ca_bundle(sandbox, monkeypatch):
    # This machine (and CI) export REQUESTS_CA_BUNDLE with the system CAs, which do not hold the
    # sandbox's CA: the client must still verify with SALESFORCE_CA_BUNDLE.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    assert client().count("SELECT COUNT() FROM Lead") == 0


def test_an_unverifiable_certificate_is_refused_with_a_sentence(sandbox, monkeypatch):
    monkeypatch.delenv("SALESFORCE_CA_BUNDLE")
    with pytest.raises(SalesforceConnectionError, match="SALESFORCE_CA_BUNDLE"):
        client()


def test_an_unreachable_org_says_so(sandbox, monkeypatch):
    monkeypatch.setenv("SALESFORCE_INSTANCE_URL", "https://127.0.0.1:1")
    with pytest.raises(SalesforceConnectionError, match=r"Could not reach Salesforce at https://127\.0\.0\.1:1"):
        client()


def test_retries_count_every_call_and_secrets_stay_out_of_logs(sandbox, org, caplog):
    caplog.set_level(logging.DEBUG)
    org.inject_fault("http_503", path="/query", times=2)
    org.inject_fault("timeout", path="/query", times=1, seconds=2, apply=False)
    sf = SalesforceResource(backoff_seconds=0.01, timeout_seconds=0.5).client()
    assert sf.count("SELECT COUNT() FROM Lead") == 0
    # Every answered request is counted (two 503s and the success); the timed-out one got no answer.
    assert sf.usage.calls["query"] == 3
    for secret in (sandbox.client_secret, sandbox.access_token):
        assert secret not in caplog.text


def test_bad_settings_stop_the_cli_with_one_sentence(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESFORCE_")}
    env.update(CONVERSION_SYNC_DATA_DIR=str(tmp_path), SALESFORCE_INSTANCE_URL="https://127.0.0.1:1",
               SALESFORCE_CLIENT_ID="id")
    done = subprocess.run([sys.executable, "-m", "conversion_sync.cli", "sync"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == ("conversion-sync: SALESFORCE_CLIENT_ID is set but "
                                                   "SALESFORCE_CLIENT_SECRET is not; set both for OAuth client "
                                                   "credentials.")
    assert "Traceback" not in done.stderr


def test_cli_help_lists_the_commands():
    done = subprocess.run([sys.executable, "-m", "conversion_sync.cli", "--help"], capture_output=True, text=True)
    for command in ("sync", "status", "contacts", "warnings", "sandbox"):
        assert command in done.stdout
    contacts = subprocess.run([sys.executable, "-m", "conversion_sync.cli", "contacts", "--help"],
                              capture_output=True, text=True)
    for action in ("list", "add", "import", "set", "push", "merge"):
        assert action in contacts.stdout
