"""Domain errors. Each carries one sentence a user can act on; none ever contains a secret."""

from __future__ import annotations


class ConversionSyncError(Exception):
    """Base class: the message is the whole story for the user (the CLI prints it and exits 2)."""

    exit_code = 2


class ConfigError(ConversionSyncError):
    """A missing or wrong setting; the message names the setting and what to set."""


class SalesforceConnectionError(ConversionSyncError):
    """Salesforce could not be reached, authenticated to, or its certificate verified."""


class SalesforceApiError(ConversionSyncError):
    """Salesforce answered a call with an error that retries did not cure."""

    def __init__(self, message: str, *, error_code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.error_code = error_code
        self.status = status


class ApiBudgetExhausted(ConversionSyncError):
    """The configured share of the org's daily API allocation is used (H3): stop cleanly."""

    def __init__(self, message: str, *, used: int | None = None, limit: int | None = None):
        super().__init__(message)
        self.used = used
        self.limit = limit


class SyncLockHeld(ConversionSyncError):
    """Another sync holds the database sync lock (R1) and did not release it in time."""


class ContactNotFound(ConversionSyncError):
    """A contact id given by the user does not exist."""


class MergeRefused(ConversionSyncError):
    """A merge that would lose or mis-link data (P6)."""


class InvalidInput(ConversionSyncError):
    """A value given by the user (CLI, CSV row, API call) is not acceptable."""
