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
import importlib.util
import json
import logging
import os
import subprocess
import sys
import traceback

from conversion_sync.cli_commands import HANDLERS
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


if __name__ == "__main__":
    sys.exit(main())
