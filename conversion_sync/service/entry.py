"""Contacts entering Conversion (P1, P2): identify calls from forms, the API and CLI, and CSV
imports. Entries are resolved in batches over one working set, in one transaction per batch."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from conversion_sync.errors import InvalidInput
from conversion_sync.settings.sync import SyncSettings
from conversion_sync.store.identity import load_for_entries, write_identities
from conversion_sync.sync.fields import CONTACT_FIELDS
from conversion_sync.sync.identity import Entry, EntryError, IdentityResolver

BATCH = 2_000


@dataclass
class EntryOutcome:
    line: int | None                 # CSV line number (None for API entries)
    contact_id: int | None = None
    created: bool = False
    matched_by: str | None = None
    error: str | None = None


@dataclass
class ImportSummary:
    outcomes: list[EntryOutcome] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(1 for o in self.outcomes if o.created)

    @property
    def matched(self) -> int:
        return sum(1 for o in self.outcomes if o.contact_id and not o.created)

    @property
    def failed(self) -> list[EntryOutcome]:
        return [o for o in self.outcomes if o.error]


def identify_entries(engine: Engine, settings: SyncSettings, entries: Sequence[Entry], *,
                     lines: Sequence[int | None] | None = None, now: dt.datetime | None = None,
                     run_id: str | None = None) -> list[EntryOutcome]:
    """Resolve and store `entries` (P2); a bad entry is reported and the others go in."""
    lines = list(lines) if lines is not None else [None] * len(entries)
    outcomes: list[EntryOutcome] = []
    for start in range(0, len(entries), BATCH):
        outcomes.extend(_identify_batch(engine, settings, entries[start:start + BATCH], lines[start:start + BATCH],
                                        now or dt.datetime.now(dt.UTC), run_id))
    return outcomes


def _identify_batch(engine, settings, entries, lines, now, run_id) -> list[EntryOutcome]:
    valid: list[tuple[int, Entry]] = []
    outcomes = [EntryOutcome(line=line) for line in lines]
    for index, entry in enumerate(entries):
        try:
            valid.append((index, entry.validated()))
        except EntryError as exc:
            outcomes[index].error = str(exc)
    with engine.begin() as conn:
        states, identifiers = load_for_entries(conn, [e for _, e in valid], custom_fields=settings.custom_fields)
        resolver = IdentityResolver(states, identifiers, now=now, default_sync=settings.default_entry_sync,
                                    contact_fields=CONTACT_FIELDS + settings.custom_fields)
        resolved = []
        for index, entry in valid:
            try:
                resolved.append((index, resolver.resolve(entry)))
            except EntryError as exc:
                outcomes[index].error = str(exc)
        key_to_id = write_identities(conn, resolver, custom_fields=settings.custom_fields, run_id=run_id, now=now)
    for index, identified in resolved:
        outcome = outcomes[index]
        outcome.contact_id = key_to_id.get(identified.contact_key, identified.contact_key)
        outcome.created, outcome.matched_by = identified.created, identified.matched_by
    return outcomes


# -- CSV ------------------------------------------------------------------------------------------

_ALIASES = {
    "email": "email", "emailaddress": "email", "e-mail": "email", "mail": "email",
    "firstname": "first_name", "givenname": "first_name", "first": "first_name",
    "lastname": "last_name", "surname": "last_name", "familyname": "last_name", "last": "last_name",
    "title": "title", "jobtitle": "title",
    "phone": "phone", "phonenumber": "phone", "telephone": "phone", "mobile": "phone",
    "company": "company_name", "companyname": "company_name", "organization": "company_name",
    "organisation": "company_name", "account": "company_name",
    "leadsource": "lead_source", "source": "lead_source",
    "city": "city", "country": "country",
    "userid": "user_id", "cookie": "cookie", "anonymousid": "cookie",
    "salesforceid": "salesforce_id", "sfid": "salesforce_id",
}


def _column_key(header: str) -> str:
    return re.sub(r"[\s_]+", "", header.strip().lower())


def map_headers(headers: Sequence[str], custom_fields: Iterable[str] = ()) -> tuple[dict[int, str], list[str]]:
    """Column index -> entry field, and the headers that were not understood (ignored)."""
    aliases = dict(_ALIASES)
    aliases.update({_column_key(name): name for name in custom_fields})
    mapping, ignored, seen = {}, [], set()
    for index, header in enumerate(headers):
        target = aliases.get(_column_key(header))
        if target is None or target in seen:
            ignored.append(header)
            continue
        seen.add(target)
        mapping[index] = target
    return mapping, ignored


@dataclass
class CsvRow:
    line: int
    entry: Entry | None = None
    error: str | None = None


def read_csv(path: Path, *, sync: str | None, custom_fields: Iterable[str] = ()) -> tuple[list[CsvRow], list[str]]:
    """The rows of a CSV file (UTF-8, with or without BOM) as entries, and the ignored headers."""
    text = _read_text(path)
    # A cell may be as long as the file: the value rule (sync/values.py) refuses a too-long
    # value on its own row, instead of the csv module stopping the whole file at 128 KiB.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        headers = next(reader, None)
    except csv.Error as exc:
        raise InvalidInput(f"{path} is not a readable CSV file (line {reader.line_num}: {exc}).") from None
    if not headers or not any(header.strip() for header in headers):
        raise InvalidInput(f"{path} is empty; the first line must name the columns (email, first_name, ...).")
    mapping, ignored = map_headers(headers, custom_fields)
    if not ({"email", "user_id", "cookie", "salesforce_id"} & set(mapping.values())):
        columns = ", ".join(headers)
        columns = columns if len(columns) <= 200 else columns[:200] + "..."
        raise InvalidInput(f"{path} has no email, user_id, cookie or salesforce_id column (columns: {columns}).")
    rows = []
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            raise InvalidInput(f"{path} is not a readable CSV file (line {reader.line_num}: {exc}).") from None
        if row is None:
            break
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(headers):
            rows.append(CsvRow(reader.line_num, error=f"{len(row)} values for {len(headers)} columns"))
            continue
        values = {mapping[i]: cell for i, cell in enumerate(row) if i in mapping and cell.strip()}
        rows.append(CsvRow(reader.line_num, Entry(
            email=values.pop("email", None), user_id=values.pop("user_id", None), cookie=values.pop("cookie", None),
            salesforce_id=values.pop("salesforce_id", None), traits=values, sync=sync, source="csv")))
    return rows, ignored


def _read_text(path: Path) -> str:
    """The file's text (UTF-8, with or without BOM); one sentence for whatever stops reading it."""
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder; give the CSV file to import.")
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput(f"{path} does not exist.") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV.") from None
    except PermissionError:
        raise InvalidInput(f"{path} cannot be read (permission denied).") from None
    except OSError as exc:
        raise InvalidInput(f"{path} cannot be read ({exc.strerror or exc}).") from None


def import_csv(engine: Engine, settings: SyncSettings, path: Path, *, sync: str | None = None,
               now: dt.datetime | None = None) -> tuple[ImportSummary, list[str]]:
    """P1: every good row enters (P2 decides new or matched); a bad row is reported with its line."""
    rows, ignored = read_csv(path, sync=sync, custom_fields=settings.custom_fields)
    good = [(row.entry, row.line) for row in rows if row.entry is not None]
    outcomes = identify_entries(engine, settings, [entry for entry, _ in good], lines=[line for _, line in good], now=now)
    outcomes += [EntryOutcome(line=row.line, error=row.error) for row in rows if row.entry is None]
    return ImportSummary(sorted(outcomes, key=lambda o: o.line or 0)), ignored
