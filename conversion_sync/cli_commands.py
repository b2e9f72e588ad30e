"""The handlers of `conversion-sync`'s commands: each takes the parsed arguments and returns
(the payload for --json, the text for a person); `cli.py` parses, dispatches and prints."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from typing import Any

from conversion_sync.errors import ContactNotFound, InvalidInput


def _run_payload(result) -> dict[str, Any]:
    """A sync or push run's --json payload, with the one sentence and exit code of how it ended:
    the failure, or a stop on the API budget, or contacts Salesforce rejected (exit 3)."""
    payload = {"run_id": result.run_id, "success": result.success, "error": result.error, "steps": result.steps,
               "failed_step": result.failed_step, "exit_code": 0, "message": None}
    if not result.success:
        payload.update(exit_code=result.exit_code or 1, message=result.error)
        return payload
    stopped = next((m["stopped"] for m in result.steps.values() if isinstance(m.get("stopped"), str)), None)
    push = result.steps.get("salesforce_push", {})
    if stopped:
        payload.update(exit_code=3, message=stopped)
    elif int(push.get("rejected") or 0):
        payload.update(exit_code=3, message=_not_sent_sentence(push))
    return payload


def _not_sent_sentence(push: dict[str, Any]) -> str:
    from conversion_sync.cli_text import rejected_codes
    from conversion_sync.store.queries import push_retry_outlook

    with _engine().connect() as conn:
        next_at, waiting = push_retry_outlook(conn)
    rejected = int(push.get("rejected") or 0)
    codes = rejected_codes(push)
    parts = [f"{rejected} contact{'s were' if rejected != 1 else ' was'} not sent to Salesforce"
             + (f" ({codes})" if codes else "")]
    if next_at is not None:
        parts.append(f"they are retried from {next_at:%Y-%m-%d %H:%M:%S} UTC")
    if waiting:
        parts.append(f"{waiting} wait{'s' if waiting == 1 else ''} for a person after too many attempts "
                     "(`conversion-sync contacts push ID`)")
    return "; ".join(parts) + "; see `conversion-sync status` and `conversion-sync warnings list`."


def _engine():
    from conversion_sync.resources.database import ConversionDatabase

    return ConversionDatabase().engine()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- handlers: each returns (payload for --json, text) ----------------------------------------------

def cmd_sync(args) -> tuple[Any, str]:
    from conversion_sync.cli_text import cycle_text
    from conversion_sync.runner import run_sync_cycle

    # R1: a sync already running is waited for, and the wait said in one sentence.
    result = run_sync_cycle(on_wait=lambda sentence: print(f"conversion-sync: {sentence}", file=sys.stderr, flush=True))
    return _run_payload(result), cycle_text(result)


def cmd_status(args) -> tuple[Any, str]:
    from conversion_sync.cli_text import status_text
    from conversion_sync.store.queries import status

    with _engine().connect() as conn:
        payload = status(conn)
    return payload, status_text(payload)


def cmd_contacts_list(args) -> tuple[Any, str]:
    from conversion_sync.cli_text import page_line, table
    from conversion_sync.store.queries import CONTACT_LIST_COLUMNS, count_contacts, list_contacts

    with _engine().connect() as conn:
        rows = list_contacts(conn, limit=args.limit, offset=args.offset, email=args.email, push_state=args.push_state)
        total = count_contacts(conn, email=args.email, push_state=args.push_state)
    if not rows:
        return rows, "No contacts." if not total else f"No contacts past --offset {args.offset} ({total} in all)."
    return rows, table(rows, CONTACT_LIST_COLUMNS) + "\n" + page_line(args.offset, len(rows), total)


def cmd_contacts_show(args) -> tuple[Any, str]:
    from conversion_sync.cli_text import contact_text
    from conversion_sync.store.queries import contact_history, get_contact

    with _engine().connect() as conn:
        contact = get_contact(conn, args.id)
        if contact is None:
            raise ContactNotFound(f"There is no contact with id {args.id}.")
        contact["history"] = contact_history(conn, args.id)
    return contact, contact_text(contact)


def cmd_contacts_set(args) -> tuple[Any, str]:
    from conversion_sync.cli_text import kept_from_salesforce
    from conversion_sync.settings.sync import load_sync_settings
    from conversion_sync.store.editing import set_contact_field
    from conversion_sync.store.queries import get_contact

    settings = load_sync_settings()
    with _engine().begin() as conn:
        changed = set_contact_field(conn, settings.custom_fields, args.id, args.field, args.value, now=_now())
        contact = get_contact(conn, args.id)
    text = (f"contact {args.id}: {args.field} is set to {args.value!r}" if changed
            else f"contact {args.id}: {args.field} already was {args.value!r}; nothing changed")
    kept = kept_from_salesforce(settings, args.field, contact) if changed else None
    if kept:
        text += f"; {kept}"
    return {"contact_id": args.id, "field": args.field, "value": args.value, "changed": changed,
            "kept_from_salesforce": kept}, text


def cmd_contacts_add(args) -> tuple[Any, str]:
    from conversion_sync import api

    traits = {name: getattr(args, name) for name in ("first_name", "last_name", "title", "phone", "company_name")
              if getattr(args, name)}
    outcome = api.identify(args.email, traits=traits, user_id=args.user_id, cookie=args.cookie,
                           salesforce_id=args.salesforce_id, sync=args.sync, source="cli")
    if outcome.error or outcome.contact_id is None:   # identify reports a refused entry on the outcome (P2)
        raise InvalidInput(f"{outcome.error}.")
    how = "created" if outcome.created else f"matched by {outcome.matched_by}"
    with _engine().connect() as conn:
        from conversion_sync.store.queries import get_contact

        contact = get_contact(conn, outcome.contact_id)
    if contact is None:     # deleted by someone else in between
        raise InvalidInput(f"Contact {outcome.contact_id} was removed just after it was entered.")
    state = {"queued": "queued for Salesforce (the push sensor sends it within seconds; "
                       f"or run `conversion-sync contacts push {outcome.contact_id}`)",
             "skipped": f"not sent to Salesforce (push it later with `conversion-sync contacts push {outcome.contact_id}`)"}.get(contact["push_state"], contact["push_state"] or "")
    payload = {"contact_id": outcome.contact_id, "created": outcome.created, "matched_by": outcome.matched_by,
               "push_state": contact["push_state"]}
    return payload, f"contact {outcome.contact_id} {how}; {state}".rstrip("; ")


def cmd_contacts_import(args) -> tuple[Any, str]:
    from pathlib import Path

    from conversion_sync.service.entry import import_csv
    from conversion_sync.settings.sync import load_sync_settings

    summary, ignored = import_csv(_engine(), load_sync_settings(), Path(args.file), sync=args.sync, now=_now())
    lines = [f"line {o.line}: {o.error}" for o in summary.failed]
    if ignored:
        columns = ", ".join(ignored)
        lines.append(f"ignored columns: {columns if len(columns) <= 200 else columns[:200] + '...'}")
    lines.append(f"{len(summary.outcomes)} rows: {summary.created} contacts created, {summary.matched} matched "
                 f"existing contacts, {len(summary.failed)} rejected")
    payload = {"rows": len(summary.outcomes), "created": summary.created, "matched": summary.matched,
               "rejected": [{"line": o.line, "error": o.error} for o in summary.failed], "ignored_columns": ignored,
               "success": not summary.failed}
    return payload, "\n".join(lines)


def cmd_contacts_push(args) -> tuple[Any, str]:
    from conversion_sync import api
    from conversion_sync.cli_text import cycle_text

    if not args.ids and not args.all_skipped:
        raise InvalidInput("Give contact ids or --all-skipped.")
    result = api.push_contacts(args.ids, all_skipped=args.all_skipped)
    return _run_payload(result), cycle_text(result)


def cmd_contacts_merge(args) -> tuple[Any, str]:
    from conversion_sync import api

    result = api.merge_contacts(args.keep, args.remove)
    changed = ", ".join(result["changes"]) or "no field"
    return result, f"merged contact {args.remove} into {args.keep} ({changed} taken from {args.remove})"


def cmd_warnings_list(args) -> tuple[Any, str]:
    from conversion_sync.cli_text import table
    from conversion_sync.store.queries import list_warnings

    with _engine().connect() as conn:
        rows = list_warnings(conn, include_resolved=args.all, kind=args.kind, limit=args.limit)
    columns = ["id", "kind", "contact_id", "related_contact_ids", "message", "created_at"]
    if args.all:
        columns += ["resolved_at", "resolution", "resolved_by"]
        for row in rows:   # the sync itself closes a hidden-field warning once the field is visible again
            if row["resolved_at"] is not None and not row.get("resolution"):
                row["resolution"], row["resolved_by"] = "resolved", "the sync"
    if not rows:
        return rows, "No warnings." if args.all else "No open warnings."
    return rows, table(rows, columns)


def _close_warnings(args, resolution: str) -> tuple[Any, str]:
    import getpass

    from conversion_sync.cli_text import closed_text
    from conversion_sync.store.warnings import close_warnings

    by = args.by or getpass.getuser()
    with _engine().begin() as conn:
        outcome = close_warnings(conn, args.ids, resolution=resolution, by=by, now=_now())
    payload = {"closed": outcome.closed, "already_closed": outcome.already_closed, "unknown": outcome.unknown,
               "resolution": resolution, "by": by}
    if outcome.unknown:   # the others are closed all the same; the missing ids are an input to fix
        payload.update(exit_code=2, message=f"There is no warning with id {', '.join(map(str, outcome.unknown))}; "
                                            "see `conversion-sync warnings list --all`.")
    return payload, closed_text(outcome, resolution, by)


def cmd_warnings_resolve(args) -> tuple[Any, str]:
    return _close_warnings(args, "resolved")


def cmd_warnings_dismiss(args) -> tuple[Any, str]:
    return _close_warnings(args, "dismissed")


HANDLERS: dict[str, Callable[[argparse.Namespace], tuple[Any, str]]] = {
    "sync": cmd_sync,
    "status": cmd_status,
    "contacts list": cmd_contacts_list,
    "contacts show": cmd_contacts_show,
    "contacts set": cmd_contacts_set,
    "contacts add": cmd_contacts_add,
    "contacts import": cmd_contacts_import,
    "contacts push": cmd_contacts_push,
    "contacts merge": cmd_contacts_merge,
    "warnings list": cmd_warnings_list,
    "warnings resolve": cmd_warnings_resolve,
    "warnings dismiss": cmd_warnings_dismiss,
}
