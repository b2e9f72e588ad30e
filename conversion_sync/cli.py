"""`conversion-sync`: a thin command line over the same jobs and store the Dagster code uses.

Every command prints plain text, or JSON on stdout with --json. An expected failure prints one
sentence on stderr naming the cause and what to do, never a traceback (that is --verbose), and
exits with its code (errors.py): 0 done, 1 the run failed (Salesforce or the database unavailable,
a persistent 5xx, another sync holding the lock: try again, the schedule will), 2 a setting or an
input must be fixed, 3 the cycle finished without sending or pulling everything (API budget or
request limit, contacts Salesforce rejected: retried later, nothing lost).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from typing import Any

from conversion_sync.errors import ContactNotFound, InvalidInput
from conversion_sync.store.queries import PUSH_STATES
from conversion_sync.store.warnings import WARNING_KINDS

log = logging.getLogger(__name__)

NOT_YET: dict[str, str] = {}   # command -> the issue it lands with (none pending)


def _whole(text: str, *, low: int, high: int, what: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None
    if not low <= number <= high:
        raise argparse.ArgumentTypeError(f"{what} must be between {low} and {high} (got {text[:40]})")
    return number


def _contact_id(text: str) -> int:
    """A contact id as the database can hold it (BIGINT), so no id reaches it as an overflow."""
    return _whole(text, low=1, high=2**63 - 1, what="a contact id")


def _count(text: str) -> int:
    return _whole(text, low=0, high=1_000_000_000, what="a count")


def _parser() -> argparse.ArgumentParser:
    # --json is accepted before or after the command; the subcommands' copy must not reset the
    # top-level value to False (argparse would), hence SUPPRESS there.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON on stdout")
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks and Dagster's error stacks on failure")
    parser = argparse.ArgumentParser(
        prog="conversion-sync", parents=[common],
        description="Two-way sync between a Salesforce org and the Conversion contact database.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    commands.add_parser("sync", parents=[common], help="run one sync cycle (pull then push) through sync_job")
    commands.add_parser("status", parents=[common], help="watermarks, last runs, backlog, open warnings")

    contacts = commands.add_parser("contacts", parents=[common], help="list, add, import, edit, push, merge contacts")
    sub = contacts.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sub.add_parser("list", parents=[common], help="list contacts")
    listing.add_argument("--limit", type=_count, default=50)
    listing.add_argument("--offset", type=_count, default=0)
    listing.add_argument("--email")
    listing.add_argument("--push-state", choices=PUSH_STATES,
                         help="only contacts in this push state (none: never queued for Salesforce)")
    show = sub.add_parser("show", parents=[common], help="one contact with its history")
    show.add_argument("id", type=_contact_id)
    add = sub.add_parser("add", parents=[common], help="add or identify a contact")
    add.add_argument("--email")
    add.add_argument("--first-name")
    add.add_argument("--last-name")
    add.add_argument("--title")
    add.add_argument("--phone")
    add.add_argument("--company-name")
    add.add_argument("--user-id")
    add.add_argument("--cookie")
    add.add_argument("--salesforce-id")
    choice = add.add_mutually_exclusive_group()
    choice.add_argument("--sync-to-salesforce", dest="sync", action="store_const", const="immediate")
    choice.add_argument("--skip-salesforce", dest="sync", action="store_const", const="skip")
    importing = sub.add_parser("import", parents=[common], help="import contacts from a CSV file")
    importing.add_argument("file")
    choice = importing.add_mutually_exclusive_group()
    choice.add_argument("--sync-to-salesforce", dest="sync", action="store_const", const="immediate")
    choice.add_argument("--skip-salesforce", dest="sync", action="store_const", const="skip")
    setting = sub.add_parser("set", parents=[common], help="edit one field of a contact in Conversion")
    setting.add_argument("id", type=_contact_id)
    setting.add_argument("field")
    setting.add_argument("value")
    push = sub.add_parser("push", parents=[common], help="push contacts to Salesforce now")
    push.add_argument("ids", nargs="*", type=_contact_id)
    push.add_argument("--all-skipped", action="store_true")
    merge = sub.add_parser("merge", parents=[common], help="merge REMOVE into KEEP")
    merge.add_argument("keep", type=_contact_id)
    merge.add_argument("remove", type=_contact_id)

    warnings = commands.add_parser("warnings", parents=[common], help="sync warnings")
    wsub = warnings.add_subparsers(dest="action", metavar="ACTION", required=True)
    wlist = wsub.add_parser("list", parents=[common], help="open warnings, newest first")
    wlist.add_argument("--all", action="store_true", help="include resolved and dismissed warnings")
    wlist.add_argument("--kind", choices=WARNING_KINDS)
    wlist.add_argument("--limit", type=_count, default=100)
    for action, what in (("resolve", "mark warnings resolved (their cause is fixed)"),
                         ("dismiss", "dismiss warnings (nothing to fix)")):
        closing = wsub.add_parser(action, parents=[common], help=what)
        closing.add_argument("ids", nargs="+", type=_contact_id, metavar="ID")
        closing.add_argument("--by", help="who closes them (default: your login name)")

    commands.add_parser("sandbox", help="run the sandbox Salesforce org (see `conversion-sync sandbox --help`)",
                        add_help=False)
    return parser


SANDBOX_MODULE = "sandbox_org"   # a separate distribution (sandbox/), run as a program, never imported


def _run_sandbox_org(args: list[str]) -> int:
    """`conversion-sync sandbox ...`: run the sandbox org's own command (`python -m sandbox_org`)
    in place of this process, so that signals reach it directly."""
    if importlib.util.find_spec(SANDBOX_MODULE) is None:
        print("conversion-sync: the sandbox org is not installed; install it with "
              "`pip install -e sandbox` from the checkout (scripts/demo and scripts/test do).", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", SANDBOX_MODULE, *args]
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, command)
    return subprocess.call(command)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sandbox":
        return _run_sandbox_org(argv[1:])
    args = _parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    args.verbose = getattr(args, "verbose", False)
    _setup_logging(args.verbose)
    name = args.command + (f" {args.action}" if getattr(args, "action", None) else "")
    if name in NOT_YET:
        _fail(args, f"`conversion-sync {name}` is not available yet: it lands with {NOT_YET[name]}.")
        return 2
    handler = HANDLERS[name]
    try:
        payload, text = handler(args)
    except Exception as exc:   # expected failures are one sentence; a bug says so (--verbose: traceback)
        from conversion_sync.service.failures import explain

        if args.verbose:
            traceback.print_exc()
        message, code = explain(exc)
        _fail(args, message)
        return code
    if args.json:
        from conversion_sync.store.queries import jsonable

        print(json.dumps(jsonable(payload), indent=2, sort_keys=True))
    else:
        print(text)
    if isinstance(payload, dict) and payload.get("message"):
        print(f"conversion-sync: {payload['message']}", file=sys.stderr)
    if isinstance(payload, dict) and "exit_code" in payload:
        return int(payload["exit_code"])
    return 0 if not (isinstance(payload, dict) and payload.get("success") is False) else 1


def _setup_logging(verbose: bool) -> None:
    from conversion_sync.runner import show_tracebacks

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:   # the service's warnings ("pull stopped: ...") are repeated by the steps' own log
        logging.getLogger("conversion_sync.service").setLevel(logging.ERROR)
    show_tracebacks(verbose)


def _fail(args, message: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps({"error": message}))
    print(f"conversion-sync: {message}", file=sys.stderr)


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


if __name__ == "__main__":
    sys.exit(main())
