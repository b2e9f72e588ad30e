"""What ends a command or a step, in one sentence with its exit code (service/failures.py,
runner.failure_of; SPEC §4, issue 8 finding 9)."""

from __future__ import annotations

import pytest
from dagster._utils.error import SerializableErrorInfo
from simple_salesforce.exceptions import SalesforceMalformedRequest
from sqlalchemy.exc import OperationalError

from conversion_sync.errors import (
    ConfigError,
    DatabaseUnavailable,
    SalesforceApiError,
    SalesforceAuthError,
    SalesforceCertificateError,
    SalesforceConnectionError,
    SyncLockHeld,
)
from conversion_sync.runner import failure_of
from conversion_sync.service.failures import domain_error, explain


@pytest.mark.parametrize("error, code", [
    (ConfigError("Set SALESFORCE_INSTANCE_URL."), 2),
    (SalesforceCertificateError("Could not verify ..."), 2),
    (SalesforceAuthError("Salesforce refused the login ..."), 2),
    (SalesforceConnectionError("Could not reach Salesforce ..."), 1),
    (SalesforceApiError("Salesforce answered HTTP 503 ..."), 1),
    (SyncLockHeld("Another sync is running ..."), 1),
    (DatabaseUnavailable("Could not open the Conversion database ..."), 1),
])
def test_each_expected_failure_has_its_exit_code(error, code):
    assert explain(error) == (str(error), code)


def test_a_lost_database_is_one_sentence_and_keeps_the_original_chained():
    original = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly\nmore"))
    error = domain_error(original)
    assert isinstance(error, DatabaseUnavailable) and error.__cause__ is original
    sentence, code = explain(original)
    assert code == 1 and "server closed the connection unexpectedly" in sentence and "\n" not in sentence
    assert "CONVERSION_DATABASE_URL" in sentence


def test_a_refused_query_names_salesforce_s_code_and_what_to_check():
    refused = SalesforceMalformedRequest("https://x/query", 400, "query",
                                         [{"errorCode": "INVALID_FIELD", "message": "No such column 'City__c'"}])
    sentence, code = explain(refused)
    assert code == 1 and "INVALID_FIELD" in sentence and "field mapping" in sentence


def test_a_bug_says_so_and_points_to_verbose():
    sentence, code = explain(KeyError("first_name"))
    assert code == 1 and sentence.startswith("Unexpected error (KeyError: 'first_name')") and "--verbose" in sentence


def error_info(cls_name: str, message: str, cause: SerializableErrorInfo | None = None) -> SerializableErrorInfo:
    return SerializableErrorInfo(message=f"{message}\n", stack=[], cls_name=cls_name, cause=cause)


def test_a_step_failure_is_the_domain_error_s_sentence_and_exit_code():
    domain = error_info("SalesforceCertificateError",
                        "conversion_sync.errors.SalesforceCertificateError: Could not verify the TLS certificate: set "
                        "SALESFORCE_CA_BUNDLE.")
    wrapped = error_info("Failure", "dagster._core.definitions.events.Failure: Could not verify ...", cause=domain)
    assert failure_of(wrapped) == ("Could not verify the TLS certificate: set SALESFORCE_CA_BUNDLE.", 2)


def test_an_unexpected_step_failure_names_the_innermost_error_not_dagster_s_wrapper():
    inner = error_info("KeyError", "KeyError: 'first_name'")
    wrapped = error_info("DagsterExecutionStepExecutionError",
                         'dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op '
                         '"contacts":', cause=inner)
    sentence, code = failure_of(wrapped)
    assert code == 1 and "KeyError: 'first_name'" in sentence and "Error occurred" not in sentence
