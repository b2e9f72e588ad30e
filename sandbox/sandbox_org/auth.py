"""Authentication: the org's credentials, its access tokens, OAuth 2.0 and SOAP login.

* `POST /services/oauth2/token` (form-encoded): `grant_type=client_credentials` with the client
  id/secret in the form or HTTP Basic; `grant_type=password` with username and password+security
  token (client id/secret optional, checked when given). Bad credentials -> 400
  `{"error": "invalid_client" | "invalid_grant", "error_description": ...}`.
* `POST /services/Soap/u/{version}`: the partner `login` envelope simple-salesforce sends; answers
  `sessionId` and `serverUrl` (`<instance>/services/Soap/u/{version}/<org id>`), or a SOAP fault
  with `sf:exceptionCode` INVALID_LOGIN.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import string
import time
from typing import Any
from xml.dom import minidom
from xml.parsers.expat import ExpatError
from xml.sax.saxutils import escape

logger = logging.getLogger(__name__)

_ALNUM = string.ascii_letters + string.digits
MAX_TOKENS = 10_000


def _random(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


class AuthState:
    """Credentials and live tokens of one org (callers hold the org lock)."""

    def __init__(self, org_id: str, user_id: str, credentials: dict[str, str] | None = None) -> None:
        self.org_id = org_id
        self.user_id = user_id
        creds = credentials or {}
        self.client_id = creds.get("client_id") or "3MVG9" + _random(80, _ALNUM + "._")
        self.client_secret = creds.get("client_secret") or _random(64, "0123456789ABCDEF")
        self.username = creds.get("username") or "integration@conversion-sandbox.example"
        self.password = creds.get("password") or _random(16)
        self.security_token = creds.get("security_token") or _random(24)
        self.tokens: dict[str, float] = {}
        self.primary_token = self.issue_token()

    def credentials(self) -> dict[str, str]:
        """The login credentials (for env files, snapshots and the testing helpers)."""
        return {"client_id": self.client_id, "client_secret": self.client_secret, "username": self.username,
                "password": self.password, "security_token": self.security_token}

    def issue_token(self) -> str:
        """A new session id, shaped like Salesforce's `00D...!AQ...`."""
        token = f"{self.org_id[:15]}!AQ{_random(10)}.{_random(96, _ALNUM + '._')}"
        self.tokens[token] = time.time()
        while len(self.tokens) > MAX_TOKENS:  # forget the oldest sessions, never the start-up token
            oldest = next(t for t in self.tokens if t != getattr(self, "primary_token", None))
            del self.tokens[oldest]
        return token

    def is_valid(self, token: str | None) -> bool:
        return bool(token) and token in self.tokens

    def expire_all(self) -> None:
        """Invalidate every token: the next API call answers 401 INVALID_SESSION_ID."""
        self.tokens.clear()

    def revalidate_primary(self) -> None:
        """Make the token minted at start valid again (used by `reset`)."""
        self.tokens[self.primary_token] = time.time()

    # ------------------------------------------------------------------ OAuth 2.0
    def oauth_token(self, form: dict[str, str], basic: tuple[str, str] | None,
                    instance_url: str) -> tuple[int, dict[str, Any]]:
        """Answer a token request: (status, JSON body)."""
        grant = form.get("grant_type", "")
        client_id = form.get("client_id") or (basic[0] if basic else None)
        client_secret = form.get("client_secret") or (basic[1] if basic else None)
        if grant == "client_credentials":
            if client_id != self.client_id or client_secret != self.client_secret:
                return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}
        elif grant == "password":
            if client_id is not None and client_id != self.client_id:
                return 400, {"error": "invalid_client_id", "error_description": "client identifier invalid"}
            if client_secret is not None and client_secret != self.client_secret:
                return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}
            if (form.get("username") != self.username
                    or form.get("password") != self.password + self.security_token):
                return 400, {"error": "invalid_grant", "error_description": "authentication failure"}
        else:
            return 400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
        token = self.issue_token()
        issued_at = str(int(time.time() * 1000))
        identity = f"{instance_url}/id/{self.org_id}/{self.user_id}"
        signature = base64.b64encode(hmac.new(self.client_secret.encode(), (identity + issued_at).encode(),
                                              hashlib.sha256).digest()).decode()
        logger.info("OAuth %s login", grant)
        return 200, {"access_token": token, "instance_url": instance_url, "id": identity,
                     "token_type": "Bearer", "issued_at": issued_at, "signature": signature}

    # ------------------------------------------------------------------ SOAP
    def soap_login(self, body: bytes, version: str, instance_url: str) -> tuple[int, str]:
        """Answer a partner-API `login` envelope: (status, XML)."""
        try:
            dom = minidom.parseString(body)
        except ExpatError:
            return 500, _soap_fault("soapenv:Client", "UNKNOWN_EXCEPTION",
                                    "Unable to parse the request envelope")
        username = _element_text(dom, "username")
        password = _element_text(dom, "password")
        if username != self.username or password != self.password + self.security_token:
            return 500, _soap_fault("sf:INVALID_LOGIN", "INVALID_LOGIN",
                                    "Invalid username, password, security token; or user locked out.")
        token = self.issue_token()
        org15 = self.org_id[:15]
        server_url = f"{instance_url}/services/Soap/u/{version}/{org15}"
        metadata_url = f"{instance_url}/services/Soap/m/{version}/{org15}"
        logger.info("SOAP login")
        return 200, (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>'
            f"<metadataServerUrl>{escape(metadata_url)}</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
            f"<serverUrl>{escape(server_url)}</serverUrl><sessionId>{escape(token)}</sessionId>"
            f"<userId>{self.user_id}</userId><userInfo><organizationId>{self.org_id}</organizationId>"
            "<organizationName>Conversion Sandbox</organizationName>"
            f"<userEmail>{escape(self.username)}</userEmail><userFullName>Integration User</userFullName>"
            f"<userId>{self.user_id}</userId><userName>{escape(self.username)}</userName>"
            "<userTimeZone>GMT</userTimeZone></userInfo></result></loginResponse></soapenv:Body>"
            "</soapenv:Envelope>")


def _element_text(dom: minidom.Document, local_name: str) -> str | None:
    """Text of the first element whose local name matches (any namespace prefix)."""
    for node in dom.getElementsByTagName("*"):
        if node.localName == local_name:
            return "".join(child.data for child in node.childNodes if child.nodeType == child.TEXT_NODE)
    return None


def _soap_fault(faultcode: str, code: str, message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>{faultcode}</faultcode><faultstring>{code}: {escape(message)}</faultstring><detail>"
        '<sf:LoginFault xsi:type="sf:LoginFault">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{escape(message)}"
        "</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>")
