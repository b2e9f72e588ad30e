"""The pure parts of the Bulk API 2.0 steps (resources/salesforce_bulk.py): the upload CSV (None
is #N/A, i.e. null; a field the row does not send is empty, which Salesforce leaves as it is),
polling that backs off, and a job Salesforce failed, aborted or never finished ends with one
sentence."""

from __future__ import annotations

import csv
import io
import itertools

import pytest

from conversion_sync.errors import SalesforceApiError
from conversion_sync.resources import salesforce_bulk as bulk


def test_upload_csv_writes_null_as_na_leaves_unnamed_fields_empty_and_quotes_what_needs_it():
    text = bulk.upload_csv([{"Id": "a", "Title": None, "LastName": 'Say "hi", then\nleave'},
                            {"Id": "b", "FirstName": "Ann"}])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["FirstName", "Id", "LastName", "Title"]
    assert rows[0] == {"FirstName": "", "Id": "a", "LastName": 'Say "hi", then\nleave', "Title": "#N/A"}
    assert rows[1] == {"FirstName": "Ann", "Id": "b", "LastName": "", "Title": ""}


class Jobs:
    """Answers get_job with the given states in turn; records the waits."""

    def __init__(self, states, error=None):
        self.states = iter(states)
        self.error = error
        self.sleeps: list[float] = []

    def call(self, what, fn, **kwargs):
        state = next(self.states)
        return {"state": state, **({"errorMessage": self.error} if self.error else {})}


def test_polling_backs_off_from_fast_to_at_most_two_seconds():
    jobs = Jobs(["InProgress"] * 9 + ["JobComplete"])
    info = bulk.wait_for_job(jobs.call, "Lead", "750x", is_query=True, what="the query", sleep=jobs.sleeps.append)
    assert info["state"] == "JobComplete"
    assert jobs.sleeps[0] == bulk.POLL_FIRST_SECONDS
    assert jobs.sleeps == sorted(jobs.sleeps) and max(jobs.sleeps) == bulk.POLL_MAX_SECONDS


def test_a_job_complete_at_once_is_not_waited_for():
    jobs = Jobs(["JobComplete"])
    bulk.wait_for_job(jobs.call, "Lead", "750x", is_query=True, what="the query", sleep=jobs.sleeps.append)
    assert jobs.sleeps == []


@pytest.mark.parametrize("state", ["Failed", "Aborted"])
def test_a_failed_or_aborted_job_is_one_sentence_with_salesforces_reason(state):
    jobs = Jobs(["InProgress", state], error="InvalidBatch : Field name not found : Foo__c")
    with pytest.raises(SalesforceApiError) as error:
        bulk.wait_for_job(jobs.call, "Lead", "750x", is_query=True, what="the Bulk API query of Lead",
                          sleep=lambda s: None)
    assert str(error.value) == (f"Salesforce ended the Bulk API query of Lead as {state} (InvalidBatch : "
                                "Field name not found : Foo__c); the next cycle tries again.")
    assert error.value.error_code == f"BULK_JOB_{state.upper()}"


def test_a_job_running_past_the_limit_is_given_up():
    jobs = Jobs(itertools.repeat("InProgress"))
    ticks = itertools.count(0, 3600)
    with pytest.raises(SalesforceApiError, match="was still InProgress after 6 hours"):
        bulk.wait_for_job(jobs.call, "Lead", "750x", is_query=True, what="the Bulk API query of Lead",
                          sleep=lambda s: None, clock=lambda: next(ticks))
