"""Plain-text rendering of what the CLI prints (the same data as its --json output)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:   # the runner loads the whole code location; the text only needs its shape
    from conversion_sync.runner import CycleResult

_H1_ORDER = ["pulled", "created", "linked_by_id", "linked_by_email", "updated", "moved_company", "relinked",
             "unlinked", "folded", "skipped_no_email", "skipped_converted", "failed", "warnings", "api_calls",
             "pushed", "created_in_salesforce", "linked_in_salesforce", "rejected"]


def _cell(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(r[i]) for r in cells)) for i, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(widths[i]) for i, column in enumerate(columns))]
    lines += ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def rejected_codes(metadata: dict[str, Any]) -> str:
    """"UNABLE_TO_LOCK_ROW 200, connection dropped 100": a push's rejections per Salesforce error code."""
    by_code = sorted(((key.split("/", 1)[1], n) for key, n in metadata.items()
                      if key.startswith("rejected/") and isinstance(n, int) and n), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{code} {n}" for code, n in by_code)


def rejected_text(metadata: dict[str, Any]) -> str:
    """"300 (UNABLE_TO_LOCK_ROW 200, connection dropped 100)"."""
    codes = rejected_codes(metadata)
    total = int(metadata.get("rejected") or 0)
    return f"{total} ({codes})" if codes else str(total)


def cycle_text(result: CycleResult) -> str:
    failed = f"FAILED in {result.failed_step}" if result.failed_step else "FAILED"
    what = "push run" if set(result.steps) == {"salesforce_push"} else "sync run"
    lines = [f"{what} {result.run_id}: {'success' if result.success else failed}"]
    for step, metadata in result.steps.items():
        counts = [f"{key}={metadata[key]}" if key != "rejected" else f"rejected={rejected_text(metadata)}"
                  for key in _H1_ORDER if isinstance(metadata.get(key), int)]
        extra = []
        if "window" in metadata:
            extra.append(str(metadata["window"]))
        if metadata.get("hidden_fields"):
            extra.append(f"left out, not visible to the integration user: {metadata['hidden_fields']}")
        if metadata.get("stopped"):
            extra.append(f"STOPPED: {metadata['stopped']}")
        lines.append(f"  {step:<20} {' '.join(counts)}" + (f"  ({'; '.join(extra)})" if extra else ""))
    return "\n".join(lines)   # a failure's sentence goes to stderr (cli.main)


def page_line(offset: int, shown: int, total: int) -> str:
    """"showing 1-50 of 886; --limit/--offset for more"."""
    line = f"showing {offset + 1}-{offset + shown} of {total}" if shown else f"showing none of {total}"
    return line + ("; --limit/--offset for more" if offset + shown < total or offset else "")


def kept_from_salesforce(settings, field: str, contact: dict[str, Any] | None) -> str | None:
    """Why a Conversion edit of `field` will not reach Salesforce, in one clause, or None when it will."""
    mapping = next((m for m in settings.contact_fields if m.field == field), None)
    if mapping is None:
        return "it is not mapped to a Salesforce field, so it stays in Conversion"
    preference = mapping.preference.value
    if preference in ("always_prefer_salesforce", "do_not_sync"):
        return f"its preference ({preference}) keeps it from being sent to Salesforce"
    if not settings.write_to_salesforce:
        return "writing to Salesforce is off (write_to_salesforce: false), so it is not sent"
    if contact and not contact.get("salesforce_id") and contact.get("salesforce_sync") == "skip":
        return ("the contact is not sent to Salesforce (its entry skipped Salesforce; "
                f"`conversion-sync contacts push {contact['id']}` sends it)")
    return None


def closed_text(outcome, resolution: str, by: str) -> str:
    lines = []
    if outcome.closed:
        lines.append(f"warning{'s' if len(outcome.closed) != 1 else ''} {', '.join(map(str, outcome.closed))} "
                     f"{resolution} by {by}")
    if outcome.already_closed:
        lines.append(f"already closed, left as they were: {', '.join(map(str, outcome.already_closed))}")
    if not lines:
        lines.append("nothing closed")
    return "\n".join(lines)


def status_text(status: dict[str, Any]) -> str:
    lines = [f"contacts: {status['contacts']} ({status['linked_contacts']} linked to Salesforce), "
             f"companies: {status['companies']}"]
    lines.append("watermarks:")
    for mark in status["watermarks"] or []:
        lines.append(f"  {mark['object']:<8} {mark['partition']}  {_cell(mark['watermark'])}"
                     f"{'  (live)' if mark['live'] else ''}")
    if not status["watermarks"]:
        lines.append("  none yet (no sync has run)")
    pending = status["pending_records"]
    lines.append(f"pending records: {sum(pending.values())} {pending if pending else ''}".rstrip())
    if status["failed_records"]:
        lines.append("failed records (retried with backoff):")
        for failure in status["failed_records"]:
            lines.append(f"  {failure['sobject']} {failure['salesforce_id']} attempts={failure['attempts']} "
                         f"next={_cell(failure['next_attempt_at'])}: {failure['last_error']}")
    if status["push_queue"]:
        lines.append(f"push queue: {status['push_queue']}")
    if status.get("hidden_fields"):
        lines.append("fields left out of the sync (Salesforce does not show them to the integration user): "
                     + ", ".join(status["hidden_fields"]))
    warnings = status["open_warnings"]
    lines.append(f"open warnings: {sum(warnings.values())} {warnings if warnings else ''}".rstrip())
    sync_runs = status.get("last_sync_runs", status["last_runs"])
    push_runs = status.get("last_push_runs", [])
    lines.append("last sync runs (pull, then push):")
    lines += [_run_line(run) for run in sync_runs] or ["  none yet"]
    lines.append("last push runs (contacts sent to Salesforce between syncs):")
    lines += [_run_line(run) for run in push_runs] or ["  none yet"]
    if sync_runs:
        lines.append("latest sync run, in full:")
        for name, stats in sync_runs[0]["steps"].items():
            counts = " ".join(f"{key}={stats[key]}" for key in _H1_ORDER if isinstance(stats, dict) and stats.get(key))
            if isinstance(stats, dict) and "watermark_after" in stats:
                counts += f" watermark {stats.get('watermark_before') or 'none'} -> {stats.get('watermark_after')}"
            if isinstance(stats, dict) and stats.get("stopped"):
                counts += f" STOPPED: {stats['stopped']}"
            lines.append(f"  {name:<20} {counts.strip() or 'nothing to do'}")
    return "\n".join(lines)


def _run_line(run: dict[str, Any]) -> str:
    steps = ", ".join(f"{name}: {_step_summary(name, stats)}" for name, stats in run["steps"].items())
    return f"  {run['run_id'][:8]} {_cell(run['started_at'])} {run['status']}  {steps}"


def _step_summary(step: str, stats: Any) -> str:
    """What a step did, in a few words: pulled, applied (created, updated), or sent to Salesforce."""
    if not isinstance(stats, dict) or not stats:
        return "no counts (failed or still running)"
    if "pulled" in stats:
        return f"{stats['pulled']} pulled" + (" (stopped)" if stats.get("stopped") else "")
    if step == "salesforce_push" or any(k in stats for k in ("pushed", "created_in_salesforce", "rejected")):
        sent = sum(int(stats.get(k) or 0) for k in ("created_in_salesforce", "linked_in_salesforce",
                                                    "updated_in_salesforce"))
        text = f"{sent} sent"
        if int(stats.get("rejected") or 0):
            text += f", {stats['rejected']} rejected"
        return text + (" (stopped)" if stats.get("stopped") else "")
    parts = [f"{int(stats.get('applied') or 0)} applied"]
    changed = [f"{stats[k]} {k.replace('_', ' ')}" for k in ("created", "updated", "linked_by_id", "linked_by_email",
                                                             "unlinked", "folded", "failed") if stats.get(k)]
    return parts[0] + (f" ({', '.join(changed)})" if changed else "")


# What each contact-history event means, in words (the rule it follows stays in the event's `rule`).
_EVENT_WORDS = {
    "contact_created": "created",
    "contact_identified": "identified",
    "contact_edited": "edited in Conversion",
    "contact_linked": "linked to Salesforce",
    "contact_updated": "updated from Salesforce",
    "contact_unlinked": "unlinked from Salesforce",
    "contact_folded": "folded into another contact",
    "contact_merged": "merged",
    "pushed_to_salesforce": "sent to Salesforce",
    "company_created": "company created",
    "company_updated": "company updated from Salesforce",
    "company_unlinked": "company unlinked from Salesforce",
}


def event_words(kind: str) -> str:
    return _EVENT_WORDS.get(kind, kind.replace("_", " "))


def _changes_text(changes: Any) -> str:
    if not isinstance(changes, dict) or not changes:
        return ""
    parts = []
    for name, change in changes.items():
        if isinstance(change, (list, tuple)) and len(change) == 2:
            parts.append(f"{name} {_cell(change[0]) or 'empty'!s} -> {_cell(change[1]) or 'empty'!s}")
        else:
            parts.append(f"{name}: {_cell(change)}")
    return "; ".join(parts)


def _no_unsent_edit(value: Any) -> bool:
    """The push moves `edited_in_conversion_at` to a fixed old stamp once an edit is sent: that is
    no edit time a person made, so `contacts show` leaves it out."""
    from conversion_sync.store.push import RECONCILED

    return isinstance(value, dt.datetime) and value.replace(tzinfo=None) <= RECONCILED.replace(tzinfo=None)


def contact_text(contact: dict[str, Any]) -> str:
    skip = {"history", "identifiers"}
    if _no_unsent_edit(contact.get("edited_in_conversion_at")):
        skip.add("edited_in_conversion_at")
    lines = [f"{key}: {_cell(value)}" for key, value in contact.items()
             if key not in skip and not key.endswith("_updated_at") and value is not None]
    if contact.get("identifiers"):
        lines.append("identifiers: " + ", ".join(f"{i['kind']}={i['value']}" for i in contact["identifiers"]))
    lines.append("history:")
    for event in contact.get("history", []):
        said = [part for part in (event.get("detail"), _changes_text(event.get("changes"))) if part]
        lines.append(f"  {_cell(event['created_at'])} {event_words(event['kind'])}"
                     + (f": {'; '.join(said)}" if said else ""))
    return "\n".join(lines)
