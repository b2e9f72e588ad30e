"""Expected failures in plain words: turn what a step or a command raised into the one sentence
(and the CLI exit code) a person acts on. Domain errors already are that sentence; a few foreign
exceptions that are expected in the life of a sync (the database going away, Salesforce refusing
a query) are translated here; anything else is a bug and keeps its traceback for --verbose."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from conversion_sync.errors import (
    ConversionSyncError,
    DatabaseUnavailable,
    SalesforceApiError,
    SalesforceConnectionError,
)

UNEXPECTED_EXIT = 1


def domain_error(exc: BaseException) -> ConversionSyncError | None:
    """`exc` as a domain error (itself, or a translation chained to it), or None for a bug."""
    if isinstance(exc, ConversionSyncError):
        return exc
    translated = _translate(exc)
    if translated is not None:
        translated.__cause__ = exc
    return translated


def _translate(exc: BaseException) -> ConversionSyncError | None:
    from simple_salesforce.exceptions import SalesforceError

    if isinstance(exc, (OperationalError, InterfaceError)) or (
            isinstance(exc, DBAPIError) and exc.connection_invalidated):
        reason = (str(exc.orig).strip().splitlines() or ["no reason given"])[0] if exc.orig else type(exc).__name__
        return DatabaseUnavailable(
            f"The Conversion database stopped answering during the run ({reason}); check that the database "
            "server is running and CONVERSION_DATABASE_URL: the run's transaction was rolled back and the "
            "next cycle starts where this one stopped.")
    if isinstance(exc, SalesforceError):
        from conversion_sync.resources.salesforce import error_message

        return SalesforceApiError(
            f"Salesforce refused a call ({error_message(exc)}); check the field mapping in CONVERSION_SYNC_CONFIG "
            "and what the integration user may see and edit.", status=getattr(exc, "status", None))
    import requests

    if isinstance(exc, requests.exceptions.RequestException):
        from conversion_sync.resources.salesforce_retry import classify

        decision = classify(exc)
        return SalesforceConnectionError(
            f"Lost the connection to Salesforce ({decision.reason}); check the network and "
            "SALESFORCE_INSTANCE_URL, the next cycle tries again.")
    return None


def explain(exc: BaseException) -> tuple[str, int]:
    """(sentence, exit code) for anything that ended a command."""
    error = domain_error(exc)
    if error is not None:
        return sentence(error), error.exit_code
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return (f"Unexpected error ({type(exc).__name__}{': ' + first if first else ''}); run the command again "
            "with --verbose for the traceback and report it.", UNEXPECTED_EXIT)


def sentence(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if text.endswith((".", "?", "!", ")")) else text + "."


def exit_code_of(class_name: str | None) -> int:
    """The exit code of the domain error class called `class_name` (a failed run's step error)."""
    todo = [ConversionSyncError]
    while todo:
        cls = todo.pop()
        if cls.__name__ == class_name:
            return cls.exit_code
        todo.extend(cls.__subclasses__())
    return UNEXPECTED_EXIT


def domain_error_names() -> set[str]:
    found, todo = set(), [ConversionSyncError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found
