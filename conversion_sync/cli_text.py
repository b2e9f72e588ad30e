"""Plain-text rendering of what the CLI prints (the same data as its --json output)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from conversion_sync.service.cycle import CycleResult

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
    lines = [f"sync run {result.run_id}: {'success' if result.success else failed}"]
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
    lines.append("last runs:")
    for run in status["last_runs"]:
        steps = ", ".join(f"{name}: {_step_summary(stats)}" for name, stats in run["steps"].items()
                          if isinstance(stats, dict))
        lines.append(f"  {run['run_id'][:8]} {_cell(run['started_at'])} {run['status']}  {steps}")
    if status["last_runs"]:
        lines.append("latest run, in full (H1):")
        for name, stats in status["last_runs"][0]["steps"].items():
            counts = " ".join(f"{key}={stats[key]}" for key in _H1_ORDER if isinstance(stats, dict) and stats.get(key))
            if isinstance(stats, dict) and "watermark_after" in stats:
                counts += f" watermark {stats.get('watermark_before') or 'none'} -> {stats.get('watermark_after')}"
            if isinstance(stats, dict) and stats.get("stopped"):
                counts += f" STOPPED: {stats['stopped']}"
            lines.append(f"  {name:<20} {counts.strip() or 'nothing to do'}")
    if not status["last_runs"]:
        lines.append("  none yet")
    return "\n".join(lines)


def _step_summary(stats: dict[str, Any]) -> str:
    """The one number that says what a step did: pulled, applied, or sent to Salesforce."""
    if "pulled" in stats:
        return f"{stats['pulled']} pulled"
    if "applied" in stats:
        return f"{stats['applied']} applied"
    sent = sum(int(stats.get(k) or 0) for k in ("created_in_salesforce", "linked_in_salesforce",
                                                "updated_in_salesforce"))
    return f"{sent} sent" + (" (stopped)" if stats.get("stopped") else "")


def contact_text(contact: dict[str, Any]) -> str:
    skip = {"history", "identifiers"}
    lines = [f"{key}: {_cell(value)}" for key, value in contact.items()
             if key not in skip and not key.endswith("_updated_at") and value is not None]
    if contact.get("identifiers"):
        lines.append("identifiers: " + ", ".join(f"{i['kind']}={i['value']}" for i in contact["identifiers"]))
    lines.append("history:")
    for event in contact.get("history", []):
        lines.append(f"  {_cell(event['created_at'])} {event['kind']} ({event['rule']}) "
                     f"{event.get('changes') or ''} {event.get('detail') or ''}".rstrip())
    return "\n".join(lines)
