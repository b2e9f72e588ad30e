"""The policy around one Salesforce call (resources/salesforce_policy), each piece alone and then
composed: the backoff, re-login once, the API budget (H3), and the sentence that ends a call. The
call itself is a plain function raising the very exceptions simple-salesforce and requests raise;
tests/integration/test_salesforce_resource.py drives the same policy over HTTPS."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceGeneralError, SalesforceMalformedRequest

from conversion_sync.errors import (
    ApiBudgetExhausted,
    SalesforceApiError,
    SalesforceAuthError,
    SalesforceConnectionError,
)
from conversion_sync.resources.salesforce_policy import ApiBudget, Backoff, ReLogin, failure_for, run_call
from conversion_sync.resources.salesforce_retry import classify

URL = "https://example.my.salesforce.com/services/data/v59.0/query"


def api(cls, status, code):
    return cls(URL, status, "query", [{"errorCode": code, "message": "details"}])


EXPIRED = SalesforceExpiredSession(URL, 401, "query", [{"errorCode": "INVALID_SESSION_ID", "message": "expired"}])
UNAVAILABLE = api(SalesforceGeneralError, 503, "SERVER_UNAVAILABLE")


@pytest.mark.parametrize("retries, delay", [(0, 0.5), (1, 1.0), (2, 2.0), (5, 16.0), (6, 30.0), (20, 30.0)])
def test_backoff_doubles_up_to_its_cap(retries, delay):
    assert Backoff(base_seconds=0.5, cap_seconds=30.0).delay(retries) == delay


def test_backoff_jitter_scales_the_delay_and_retries_are_bounded():
    backoff = Backoff(max_retries=2, base_seconds=1.0)
    assert backoff.delay(1, jitter=0.5) == 1.0 and backoff.delay(1, jitter=1.5) == 3.0
    assert [backoff.allows(n) for n in range(4)] == [True, True, False, False]


def test_relogin_happens_once_and_only_for_an_expired_session():
    logins = []
    relogin = ReLogin(lambda: logins.append(1), can_refresh=True)
    assert not relogin.recovers(classify(UNAVAILABLE))
    assert relogin.recovers(classify(EXPIRED)) and logins == [1]
    assert not relogin.recovers(classify(EXPIRED)) and logins == [1]


def test_a_bare_access_token_is_not_logged_in_again():
    logins = []
    assert not ReLogin(lambda: logins.append(1), can_refresh=False).recovers(classify(EXPIRED))
    assert logins == []


@pytest.mark.parametrize("used, limit, stops", [(None, None, False), (10, 0, False), (79, 100, False),
                                                 (80, 100, True), (100, 100, True)])
def test_the_budget_stops_at_its_share(used, limit, stops):
    if stops:
        with pytest.raises(ApiBudgetExhausted, match=f"used {used} of {limit} daily API requests"):
            ApiBudget(0.8).check(used, limit)
    else:
        ApiBudget(0.8).check(used, limit)


def _fail(what="a SOQL query", can_refresh=True):
    return lambda exc, decision, attempts, seconds: failure_for(
        what, exc, decision, attempts=attempts, seconds=seconds, host="https://org", can_refresh=can_refresh)


def _calls(*outcomes):
    """A call that raises (or returns) each outcome in turn, counting its attempts."""
    attempts = []

    def call():
        outcome = outcomes[len(attempts)]
        attempts.append(outcome)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome
    return call, attempts


def test_a_transient_failure_is_retried_with_backoff_then_answers():
    call, attempts = _calls(UNAVAILABLE, requests.exceptions.ReadTimeout("slow"), "answer")
    slept = []
    result = run_call("a SOQL query", call, idempotent=True, backoff=Backoff(base_seconds=1.0),
                      relogin=ReLogin(lambda: None, can_refresh=True), fail=_fail(), sleep=slept.append,
                      jitter=lambda: 1.0)
    assert result == "answer" and len(attempts) == 3 and slept == [1.0, 2.0]


def test_retries_run_out_with_one_sentence_naming_the_attempts():
    call, attempts = _calls(*[UNAVAILABLE] * 4)
    with pytest.raises(SalesforceApiError, match=r"HTTP 503 SERVER_UNAVAILABLE to a SOQL query \(3 attempts"):
        run_call("a SOQL query", call, idempotent=True, backoff=Backoff(max_retries=2),
                 relogin=ReLogin(lambda: None, can_refresh=True), fail=_fail(), sleep=lambda s: None)
    assert len(attempts) == 3


def test_an_expired_session_logs_in_again_once_then_says_why():
    logins = []
    call, attempts = _calls(EXPIRED, EXPIRED)
    with pytest.raises(SalesforceAuthError, match="logging in again did not help"):
        run_call("a SOQL query", call, idempotent=True, backoff=Backoff(),
                 relogin=ReLogin(lambda: logins.append(1), can_refresh=True), fail=_fail(), sleep=lambda s: None)
    assert logins == [1] and len(attempts) == 2


def test_a_create_whose_answer_was_lost_is_not_repeated():
    call, attempts = _calls(requests.exceptions.ReadTimeout("slow"), "never")
    with pytest.raises(SalesforceConnectionError, match="it may have been applied"):
        run_call("creating records", call, idempotent=False, backoff=Backoff(),
                 relogin=ReLogin(lambda: None, can_refresh=True), fail=_fail("creating records"),
                 sleep=lambda s: None)
    assert len(attempts) == 1


def test_a_bad_request_is_raised_as_itself_without_retry():
    bad = api(SalesforceMalformedRequest, 400, "INVALID_FIELD")
    call, attempts = _calls(bad)
    with pytest.raises(SalesforceMalformedRequest):
        run_call("a SOQL query", call, idempotent=True, backoff=Backoff(),
                 relogin=ReLogin(lambda: None, can_refresh=True), fail=_fail(), sleep=lambda s: None)
    assert len(attempts) == 1
