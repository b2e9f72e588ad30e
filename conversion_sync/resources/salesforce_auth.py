"""Logging in to Salesforce with the three modes of SPEC §4, and the verified HTTPS session.

simple-salesforce sends its own logins to *.salesforce.com, so the token is fetched here from
`<instance>/services/oauth2/token` (or the SOAP login endpoint of the instance) and the client is
then built from `session_id` + `instance_url`. No message built here contains a secret.
"""

from __future__ import annotations

import logging
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import requests

from conversion_sync.errors import SalesforceAuthError, SalesforceCertificateError, SalesforceConnectionError
from conversion_sync.settings.salesforce import SalesforceSettings, reveal

log = logging.getLogger(__name__)

API_VERSION = "59.0"


class VerifiedSession(requests.Session):
    """A requests session that verifies TLS with SALESFORCE_CA_BUNDLE when given.

    requests lets REQUESTS_CA_BUNDLE (exported on this machine and in CI) override a session's
    `verify`; this session keeps its own CA bundle while still honouring proxy variables. It
    also applies a default timeout and reports every response to `on_response`.
    """

    def __init__(self, ca_bundle: str | None, timeout_seconds: float,
                 on_response: Callable[[str, str, requests.Response], None] | None = None):
        super().__init__()
        self.verify = ca_bundle or True
        self._ca_bundle = ca_bundle
        self._timeout = timeout_seconds
        self._on_response = on_response
        self._lock = threading.Lock()

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self._ca_bundle:
            settings["verify"] = self._ca_bundle
        return settings

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", self._timeout)
        response = super().request(method, url, *args, **kwargs)
        if self._on_response is not None:
            self._on_response(method, url, response)
        return response


@dataclass(frozen=True)
class SalesforceLogin:
    """The outcome of a login: a bearer token and the instance URL to call."""

    access_token: str
    instance_url: str
    can_refresh: bool


def login(settings: SalesforceSettings, session: requests.Session) -> SalesforceLogin:
    """Obtain a session for `settings.auth_mode`; raise SalesforceConnectionError otherwise."""
    mode = settings.auth_mode
    if mode == "access_token":
        return SalesforceLogin(reveal(settings.access_token), settings.instance_url, can_refresh=False)
    if mode == "soap_password":
        return _soap_login(settings, session)
    form = {"client_id": settings.client_id, "client_secret": reveal(settings.client_secret)}
    if mode == "password":
        form.update(grant_type="password", username=settings.username,
                    password=reveal(settings.password) + reveal(settings.security_token))
        what = "SALESFORCE_USERNAME, SALESFORCE_PASSWORD, SALESFORCE_SECURITY_TOKEN and the client id/secret"
    else:
        form.update(grant_type="client_credentials")
        what = "SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET"
    response = _post(session, f"{settings.instance_url}/services/oauth2/token", data=form)
    body = _json(response)
    if response.status_code != 200 or not body.get("access_token"):
        error = body.get("error") or f"HTTP {response.status_code}"
        description = body.get("error_description") or "no description"
        raise SalesforceAuthError(
            f"Salesforce refused the login ({error}: {description}); check {what}.")
    return SalesforceLogin(body["access_token"], (body.get("instance_url") or settings.instance_url).rstrip("/"),
                           can_refresh=True)


_SOAP_ENVELOPE = """<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema"
              xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
              xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"
              xmlns:urn="urn:partner.soap.sforce.com">
  <env:Header><urn:CallOptions><urn:client>conversion-sync</urn:client></urn:CallOptions></env:Header>
  <env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">
    <n1:username>{username}</n1:username><n1:password>{password}</n1:password>
  </n1:login></env:Body>
</env:Envelope>"""


def _soap_login(settings: SalesforceSettings, session: requests.Session) -> SalesforceLogin:
    """Username + password + security token through the partner SOAP login of the instance."""
    envelope = _SOAP_ENVELOPE.format(
        username=escape(settings.username or ""),
        password=escape(reveal(settings.password) + reveal(settings.security_token)))
    response = _post(session, f"{settings.instance_url}/services/Soap/u/{API_VERSION}",
                     data=envelope.encode("utf-8"),
                     headers={"content-type": "text/xml", "charset": "UTF-8", "SOAPAction": "login"})
    texts = _xml_texts(response.text)
    if response.status_code != 200 or "sessionId" not in texts:
        code = texts.get("exceptionCode") or texts.get("faultcode") or f"HTTP {response.status_code}"
        message = texts.get("exceptionMessage") or texts.get("faultstring") or "no description"
        raise SalesforceAuthError(
            f"Salesforce refused the login ({code}: {message}); check SALESFORCE_USERNAME, "
            "SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN.")
    server_url = texts.get("serverUrl", "")
    match = re.match(r"^(https://[^/]+)", server_url)
    instance_url = match.group(1).replace("-api.", ".") if match else settings.instance_url
    return SalesforceLogin(texts["sessionId"], instance_url, can_refresh=True)


def _xml_texts(body: str) -> dict[str, str]:
    """Local element name -> text of the first such element, ignoring namespaces."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return {}
    found: dict[str, str] = {}
    for element in root.iter():
        name = element.tag.rsplit("}", 1)[-1]
        if name not in found and element.text and element.text.strip():
            found[name] = element.text.strip()
    return found


def _post(session: requests.Session, url: str, **kwargs: Any) -> requests.Response:
    try:
        return session.post(url, **kwargs)
    except requests.exceptions.SSLError:
        raise SalesforceCertificateError(
            f"Could not verify the TLS certificate of {_origin(url)}; for the sandbox org set SALESFORCE_CA_BUNDLE "
            "to the CA file it wrote (data/sandbox/ca.pem).") from None
    except requests.exceptions.Timeout:
        raise SalesforceConnectionError(f"Salesforce at {_origin(url)} did not answer the login in time.") from None
    except requests.exceptions.ConnectionError:
        raise SalesforceConnectionError(
            f"Could not reach Salesforce at {_origin(url)}; check SALESFORCE_INSTANCE_URL "
            "(is the sandbox org running? start it with `conversion-sync sandbox`).") from None


def _origin(url: str) -> str:
    match = re.match(r"^(https?://[^/]+)", url)
    return match.group(1) if match else "the instance URL"


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
