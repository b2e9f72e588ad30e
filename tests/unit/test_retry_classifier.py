"""What SalesforceClient.call does with each failure (resources/salesforce_retry.classify): what is
retried, what logs in again, what stops cleanly (H3), and what fails at once (issue 8, finding 9:
a certificate that does not verify is a setting, never a blip)."""

from __future__ import annotations

import ssl

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError
from urllib3.exceptions import SSLError as Urllib3SSLError

from conversion_sync.resources.salesforce_retry import Cause, Verdict, classify

URL = "https://example.my.salesforce.com/services/data/v59.0/query"


def api(cls, status, code, message="details"):
    return cls(URL, status, "query", [{"errorCode": code, "message": message}])


def ssl_error(inner: Exception) -> requests.exceptions.SSLError:
    return requests.exceptions.SSLError(MaxRetryError(None, "/services/data", reason=Urllib3SSLError(inner)))


CERT_FAILED = ssl_error(ssl.SSLCertVerificationError(
    1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain"))
HOSTNAME = ssl_error(ssl.SSLCertVerificationError(
    1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid"))
TLS_EOF = ssl_error(ssl.SSLEOFError(8, "EOF occurred in violation of protocol (_ssl.c:2427)"))
REFUSED = requests.exceptions.ConnectionError(MaxRetryError(None, "/services/data", reason=NewConnectionError(
    None, "Failed to establish a new connection: [Errno 111] Connection refused")))
NO_HOST = requests.exceptions.ConnectionError(MaxRetryError(None, "/services/data", reason=NewConnectionError(
    None, "Failed to establish a new connection: [Errno -2] Name or service not known")))
RESET = requests.exceptions.ConnectionError(ProtocolError(
    "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")))
DROPPED = requests.exceptions.ConnectionError(ProtocolError(
    "Connection aborted.", ConnectionError("Remote end closed connection without response")))


@pytest.mark.parametrize("exc, idempotent, verdict, cause", [
    # retried: transient on Salesforce's side or the network's
    (api(SalesforceGeneralError, 503, "SERVER_UNAVAILABLE"), True, Verdict.RETRY, Cause.SERVER_ERROR),
    (api(SalesforceGeneralError, 500, "UNKNOWN_EXCEPTION"), True, Verdict.RETRY, Cause.SERVER_ERROR),
    (api(SalesforceGeneralError, 502, "BAD_GATEWAY"), True, Verdict.RETRY, Cause.SERVER_ERROR),
    (api(SalesforceMalformedRequest, 400, "UNABLE_TO_LOCK_ROW"), True, Verdict.RETRY, Cause.ROW_LOCK),
    (requests.exceptions.ReadTimeout("read timed out"), True, Verdict.RETRY, Cause.TIMEOUT),
    (RESET, True, Verdict.RETRY, Cause.CONNECTION_LOST),
    (DROPPED, True, Verdict.RETRY, Cause.CONNECTION_LOST),
    (TLS_EOF, True, Verdict.RETRY, Cause.CONNECTION_LOST),            # a connection cut mid-handshake
    (requests.exceptions.ChunkedEncodingError("incomplete read"), True, Verdict.RETRY, Cause.CONNECTION_LOST),
    # a create may be repeated only when Salesforce surely did not apply it
    (api(SalesforceGeneralError, 503, "SERVER_UNAVAILABLE"), False, Verdict.RETRY, Cause.SERVER_ERROR),
    (api(SalesforceMalformedRequest, 400, "UNABLE_TO_LOCK_ROW"), False, Verdict.RETRY, Cause.ROW_LOCK),
    (REFUSED, False, Verdict.RETRY, Cause.REFUSED),                   # nothing was sent
    (NO_HOST, False, Verdict.RETRY, Cause.REFUSED),
    (requests.exceptions.ConnectTimeout("connect timed out"), False, Verdict.RETRY, Cause.TIMEOUT),
    (api(SalesforceGeneralError, 502, "BAD_GATEWAY"), False, Verdict.UNCERTAIN, Cause.SERVER_ERROR),
    (requests.exceptions.ReadTimeout("read timed out"), False, Verdict.UNCERTAIN, Cause.TIMEOUT),
    (DROPPED, False, Verdict.UNCERTAIN, Cause.CONNECTION_LOST),
    # log in again (once; the client decides whether it can)
    (api(SalesforceExpiredSession, 401, "INVALID_SESSION_ID"), True, Verdict.RELOGIN, Cause.SESSION),
    # stop cleanly, resume next cycle
    (api(SalesforceRefusedRequest, 403, "REQUEST_LIMIT_EXCEEDED"), True, Verdict.STOP, Cause.REQUEST_LIMIT),
    # never retried
    (CERT_FAILED, True, Verdict.FAIL, Cause.CERTIFICATE),
    (HOSTNAME, True, Verdict.FAIL, Cause.CERTIFICATE),
    (CERT_FAILED, False, Verdict.FAIL, Cause.CERTIFICATE),
    (api(SalesforceMalformedRequest, 400, "INVALID_FIELD", "No such column 'MailingCity'"), True, Verdict.FAIL,
     Cause.BAD_REQUEST),
    (api(SalesforceMalformedRequest, 400, "MALFORMED_QUERY"), True, Verdict.FAIL, Cause.BAD_REQUEST),
    (api(SalesforceRefusedRequest, 403, "INSUFFICIENT_ACCESS"), True, Verdict.FAIL, Cause.REFUSED_REQUEST),
    (api(SalesforceResourceNotFound, 404, "NOT_FOUND"), True, Verdict.FAIL, Cause.BAD_REQUEST),
    (ValueError("a bug"), True, Verdict.FAIL, Cause.OTHER),
])
def test_each_failure_gets_its_verdict(exc, idempotent, verdict, cause):
    decision = classify(exc, idempotent=idempotent)
    assert (decision.verdict, decision.cause) == (verdict, cause), decision.reason


def test_the_reason_names_salesforce_s_status_and_code():
    assert classify(api(SalesforceGeneralError, 503, "SERVER_UNAVAILABLE")).reason == "HTTP 503 SERVER_UNAVAILABLE"
    assert classify(REFUSED).reason == "connection refused"
    assert classify(DROPPED).reason == "connection dropped"
