"""R2 change detection (late commits, paging, failures, deletes through queryAll), H2 retries
and H3's budget stop on the pull side."""

import datetime as dt

import pytest
from simple_salesforce.exceptions import SalesforceGeneralError

from conversion_sync.errors import SalesforceApiError, SalesforceConnectionError
from conversion_sync.store import watermarks

UTC = dt.UTC


def live_mark(harness, sobject="Lead"):
    with harness.engine.connect() as conn:
        return watermarks.live_watermark(conn, sobject)


def test_a_late_commit_inside_the_lookback_is_picked_up(harness, org):
    org.create("Lead", {"LastName": "Early", "Company": "X", "Email": "early@example.com"})
    harness.pull()
    # Becomes visible now with a SystemModstamp 60 s in the past: before the watermark.
    late = org.late_commit("Lead", fields={"LastName": "Late", "Company": "X", "Email": "late@example.com"},
                           seconds_ago=60)
    harness.pull()
    assert harness.contact_of(late) is not None


def test_a_late_commit_older_than_the_lookback_is_missed_by_design(harness, org, sync_config):
    """What the lookback is for: shrink it and the same late commit is not seen (a backfill
    of its day recovers it)."""
    sync_config("lookback_seconds: 10\n")
    harness.pull()
    late = org.late_commit("Lead", fields={"LastName": "Late", "Company": "X", "Email": "late@example.com"},
                           seconds_ago=60)
    harness.pull()
    assert harness.contact_of(late) is None
    harness.backfill()
    assert harness.contact_of(late) is not None


def test_paging_over_several_thousand_changes(harness, org):
    org.seed("Lead", [{"LastName": f"L{i}", "Company": "X", "Email": f"p{i}@example.com"} for i in range(4500)])
    result = harness.pull()
    assert result["Lead"]["pulled"] == 4500
    assert result["contacts"]["created"] == 4500 and len(harness.contacts()) == 4500
    assert result["api_calls"]["query_more"] >= 2           # 2,000 rows a page
    assert result["api_calls"]["total"] <= 3 * 4 + 3        # per object: limits, count, pages


def test_a_failure_mid_pull_keeps_the_watermark_and_the_next_cycle_gets_everything(harness, org):
    org.seed("Lead", [{"LastName": f"L{i}", "Company": "X", "Email": f"f{i}@example.com"} for i in range(2500)])
    harness.pull()
    before = live_mark(harness)
    org.seed("Lead", [{"LastName": f"N{i}", "Company": "X", "Email": f"n{i}@example.com"} for i in range(2500)])
    org.inject_fault("http_503", path="/query/0r8", times=None)   # every next-page call fails
    # Retries give up on the persistent 503 (not some other crash): simple-salesforce's error today,
    # the domain SalesforceApiError once the client wraps it; both carry the status.
    with pytest.raises((SalesforceApiError, SalesforceGeneralError)) as failed:
        harness.pull()
    assert failed.value.status == 503
    assert live_mark(harness) == before
    org.clear_faults()
    harness.pull()
    assert len(harness.contacts()) == 5000
    assert live_mark(harness) > before


def test_transient_faults_are_retried(harness, org):
    org.create("Lead", {"LastName": "A", "Company": "X", "Email": "a@example.com"})
    org.inject_fault("http_500", path="/query", times=2)
    org.inject_fault("lock_row", path="/query", times=1)
    harness.pull()
    assert len(harness.contacts()) == 1


def test_an_expired_session_logs_in_again(harness, org):
    org.create("Lead", {"LastName": "A", "Company": "X", "Email": "a@example.com"})
    org.inject_fault("expired_session", path="/query", times=1)
    harness.pull()
    assert len(harness.contacts()) == 1


def test_an_expired_access_token_says_what_to_set(harness, org, monkeypatch, sandbox):
    monkeypatch.delenv("SALESFORCE_CLIENT_ID")
    monkeypatch.delenv("SALESFORCE_CLIENT_SECRET")
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", sandbox.access_token)
    org.expire_tokens()
    with pytest.raises(SalesforceConnectionError, match="SALESFORCE_ACCESS_TOKEN") as error:
        harness.pull()
    assert sandbox.access_token not in str(error.value)


def test_deletes_are_seen_through_query_all(harness, org):
    lead = org.create("Lead", {"LastName": "A", "Company": "X", "Email": "a@example.com"})
    harness.pull()
    org.delete("Lead", lead)
    result = harness.pull()
    assert result["api_calls"]["query"] >= 1 and harness.staged(lead).is_deleted


def test_h2_a_bad_record_is_kept_with_its_error_and_retried_without_blocking_others(harness, org):
    bad = org.seed("Lead", [{"LastName": "Bad", "Company": "X", "Email": "not-an-email"}])[0]
    good = org.create("Lead", {"LastName": "Good", "Company": "X", "Email": "good@example.com"})
    result = harness.pull()
    assert harness.contact_of(good) is not None and harness.contact_of(bad) is None
    assert result["contacts"]["failed"] == 1
    staged = harness.staged(bad)
    assert staged.pending and staged.attempts == 1 and "invalid email" in staged.last_error
    assert staged.next_attempt_at > dt.datetime.now(UTC)
    assert live_mark(harness) is not None                    # the watermark moved on
    org.update("Lead", bad, {"Email": "fixed@example.com"})  # a person fixes it in Salesforce
    harness.pull()
    assert harness.contact_of(bad).email == "fixed@example.com"
    assert not harness.staged(bad).pending and harness.staged(bad).last_error is None


def test_h3_the_pull_stops_cleanly_at_the_api_budget_and_resumes(harness, org):
    org.create("Lead", {"LastName": "A", "Company": "X", "Email": "a@example.com"})
    org.set_api_limit(1000)
    org.set_api_usage(850)                                   # above the default 80 % share
    result = harness.pull()
    assert all(result[o]["stopped"] == 1 for o in ("Account", "Contact", "Lead"))
    assert harness.contacts() == [] and live_mark(harness) is None
    org.set_api_usage(100)                                   # usage fell
    harness.pull()
    assert len(harness.contacts()) == 1 and live_mark(harness) is not None
