"""Domain errors. Each carries one sentence a user can act on; none ever contains a secret.

`exit_code` is what the CLI exits with when the error ends a command:
  1  the run failed on something outside the user's settings (Salesforce or the database
     unavailable, a persistent 5xx, another sync holding the lock): try again, or let the next
     scheduled cycle do it;
  2  a setting or an input must be fixed (configuration, TLS certificate, credentials, a bad value);
  3  the cycle finished but did not send or pull everything (API budget or request limit, records
     Salesforce rejected): nothing is lost, the rest is retried later.
"""

from __future__ import annotations


class ConversionSyncError(Exception):
    """Base class: the message is the whole story for the user (the CLI prints it and exits 2)."""

    exit_code = 2


class ConfigError(ConversionSyncError):
    """A missing or wrong setting; the message names the setting and what to set."""


class SalesforceConnectionError(ConversionSyncError):
    """Salesforce could not be reached (refused, timed out, connection lost): may pass by itself.
    `reason` says how in a few words ("connection dropped", "timed out") where it is known."""

    exit_code = 1

    def __init__(self, message: str, *, reason: str | None = None):
        super().__init__(message)
        self.reason = reason


class SalesforceCertificateError(SalesforceConnectionError):
    """Salesforce's TLS certificate could not be verified: a setting, never retried."""

    exit_code = 2


class SalesforceAuthError(SalesforceConnectionError):
    """Salesforce refused the login or the session (bad or expired credentials)."""

    exit_code = 2


class SalesforceApiError(ConversionSyncError):
    """Salesforce answered a call with an error that retries did not cure."""

    exit_code = 1

    def __init__(self, message: str, *, error_code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.error_code = error_code
        self.status = status


class ApiBudgetExhausted(ConversionSyncError):
    """The configured share of the org's daily API allocation is used (H3): stop cleanly."""

    exit_code = 3

    def __init__(self, message: str, *, used: int | None = None, limit: int | None = None):
        super().__init__(message)
        self.used = used
        self.limit = limit


class SyncLockHeld(ConversionSyncError):
    """Another sync holds the database sync lock (R1) and did not release it in time."""

    exit_code = 1


class DatabaseUnavailable(ConversionSyncError):
    """The Conversion database could not be reached or stopped answering during a run."""

    exit_code = 1


class ContactNotFound(ConversionSyncError):
    """A contact id given by the user does not exist."""


class MergeRefused(ConversionSyncError):
    """A merge that would lose or mis-link data (P6)."""


class InvalidInput(ConversionSyncError):
    """A value given by the user (CLI, CSV row, API call) is not acceptable."""
