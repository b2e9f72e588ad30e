"""New records that only create a contact, written set-based (issue 10).

Most records of a first sync (and many of any cycle) are new to Conversion and touch nothing
else: no contact has their email or is linked to them, no other record of the mirror shares
their email or names them (a conversion's Contact, a merge's survivor). Applying such a record
is R4c and nothing more: a new contact linked to it, holding its values (R5 for a new contact,
`sync.fields.taken_when_new`), in its Account's company for a Contact (R6), with its creation and
company events (R9). `classify` finds, once per people step, the records alone in the mirror;
`sync.pull.only_creates` tells which of a batch's create only a contact; `create` writes them
with a few INSERT ... SELECT statements straight from the mirror, with the contact and event ids the
ordered walk would have given them (service/apply.py numbers the whole batch in record order,
R4e), so none of their values goes through Python. Only rows staged with every value checked
(`values_checked`, H2) qualify.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlalchemy import BigInteger, Column, Connection, MetaData, String, Table, Text, bindparam, select, text

from conversion_sync.store.bulk import insert_rows, reserve_ids
from conversion_sync.store.schema import UTCDateTime, contacts, lone_records, sync_events
from conversion_sync.store.schema import salesforce_records as sr
from conversion_sync.store.staging import among, id_chunks
from conversion_sync.sync.fields import CONTACT_FIELDS
from conversion_sync.sync.pull import ACCOUNT, CREATED_FROM

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

# The records of one `create`, with the ids given to their contacts and events.
_temp = MetaData()
created_records = Table(
    "first_load_records", _temp,
    Column("salesforce_id", String(18), primary_key=True),
    Column("contact_id", BigInteger, nullable=False),
    Column("created_event_id", BigInteger, nullable=False),
    Column("moved_event_id", BigInteger),
    Column("company_id", BigInteger),
    Column("company_name", Text),
    prefixes=["TEMPORARY"],
)
_VALUES = "first_load_values"   # those records' values, read out of the mirror once per create


def reserve_contact_ids(conn: Connection, count: int) -> list[int]:
    """Ids for `count` new contacts, in order (`bulk.reserve_ids`)."""
    return reserve_ids(conn, contacts, count)


def reserve_event_ids(conn: Connection, count: int) -> list[int]:
    """Ids for `count` new events, in order (`bulk.reserve_ids`)."""
    return reserve_ids(conn, sync_events, count)


def eligible(taken: Sequence[tuple[str, str]]) -> bool:
    """Whether `create` can write these (Conversion field, Salesforce field) pairs: standard
    contact fields only (custom ones live in contact_attributes), the email from the record's
    own Email (the mirror's email_key is its key), names fit for a JSON path."""
    return all(name in CONTACT_FIELDS and _NAME.match(sf_field) and (name != "email" or sf_field == "Email")
               for name, sf_field in taken)


def classify(conn: Connection, sobjects: Sequence[str]) -> int:
    """Fill `lone_records` with the pending, never applied `sobjects` records that are alone in
    the mirror (`sync.pull.only_creates`): an email key no other record has, and no other
    record naming them as its merge survivor or converted Contact. It is asked once per step,
    set-based, instead of once per batch: while the step runs (the only writer of the mirror
    then, R1) the mirror changes by the records it applies and by pushes between its batches,
    whose records are linked to, or share an email with, a contact, which `conversion_facts`
    sees when the batch is applied. Returns how many records are alone."""
    forget(conn)
    if not sobjects:
        return 0
    return conn.execute(text("""
        INSERT INTO lone_records (salesforce_id)
        SELECT sr.salesforce_id FROM salesforce_records sr
        WHERE sr.pending AND sr.sobject IN :sobjects AND sr.applied_fields IS NULL
          AND sr.email_key IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM salesforce_records o
                          WHERE o.email_key = sr.email_key AND o.salesforce_id <> sr.salesforce_id)
          AND NOT EXISTS (SELECT 1 FROM salesforce_records o WHERE o.master_record_id = sr.salesforce_id)
          AND NOT EXISTS (SELECT 1 FROM salesforce_records o WHERE o.converted_contact_id = sr.salesforce_id)
        """).bindparams(bindparam("sobjects", expanding=True)), {"sobjects": list(sobjects)}).rowcount


def forget(conn: Connection) -> None:
    """Empty `lone_records` (a step starting or ending; rows a killed step left go too)."""
    conn.execute(lone_records.delete())


class ConversionFacts(NamedTuple):
    """What `sync.pull.only_creates` asks of Conversion about a lone record, when its batch is
    applied (a contact created meanwhile, in Conversion or by a push, must be found, R4b)."""

    email_held: bool        # a contact holds its email key
    linked: bool            # a contact is linked to the record


def conversion_facts(conn: Connection, ids: Sequence[str]) -> dict[str, ConversionFacts]:
    """The `ConversionFacts` of each of these mirror records with an email key. Three lookups by
    index per chunk, joined here: the records' email keys, the contacts holding those keys, the
    contacts linked to the records. (As one join, PostgreSQL hashed the whole contacts table for
    every chunk: 28 ms a chunk at W1's scale 0.1, against about 3 ms for the lookups.)"""
    found: dict[str, ConversionFacts] = {}
    for chunk in id_chunks(conn, ids):
        keys = dict(conn.execute(select(sr.c.salesforce_id, sr.c.email_key).where(
            sr.c.email_key.is_not(None), among(conn, sr.c.salesforce_id, chunk))).all())
        if not keys:
            continue
        held = set(conn.execute(select(contacts.c.email_key).distinct().where(
            among(conn, contacts.c.email_key, sorted(set(keys.values()))))).scalars())
        linked = set(conn.execute(select(contacts.c.salesforce_id).where(
            among(conn, contacts.c.salesforce_id, list(keys)))).scalars())
        for sf_id, key in keys.items():
            found[sf_id] = ConversionFacts(email_held=key in held, linked=sf_id in linked)
    return found


def create(conn: Connection, sobject: str, taken: Sequence[tuple[str, str]], rows: Iterable[dict], *,
           now: dt.datetime, run_id: str | None) -> None:
    """Write the contacts and events of independent `sobject` records (the caller marks them
    applied with the rest of the batch, `staging.mark_applied`). Each row: `salesforce_id`, the `contact_id`, `created_event_id` and `moved_event_id` (None
    without a company) to give, and for a Contact its Account's `company_id` and `company_name`."""
    rows = list(rows)
    if not rows:
        return
    pg = conn.dialect.name == "postgresql"
    created_records.drop(conn, checkfirst=True)
    created_records.create(conn)
    insert_rows(conn, created_records, rows)     # COPY on PostgreSQL
    params: dict = {"run_id": run_id, "created_from": CREATED_FROM, "account": ACCOUNT}
    values: dict[str, str] = {}
    extracted = []
    for i, (name, sf_field) in enumerate(taken):
        params[f"f{i}"] = sf_field if pg else f'$."{sf_field}"'
        extracted.append((f"(s.fields ->> :f{i})" if pg else f"json_extract(s.fields, :f{i})") + f" AS v{i}")
        values[name] = f"f.v{i}"
    # Each record's values are read out of the mirror once, into a temporary table the
    # statements below read from: one join of the mirror per batch, not one per statement
    # (each was a scan of the whole mirror on PostgreSQL, whose planner hashes it).
    temp = created_records.name
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_VALUES}")
    _run(conn, f"""CREATE TEMPORARY TABLE {_VALUES} AS
        SELECT t.*, s.sobject, s.last_modified_date, s.email_key, s.account_id{''.join(', ' + e for e in extracted)}
        FROM {temp} t JOIN salesforce_records s ON s.salesforce_id = t.salesforce_id""", params, now)
    join = f"FROM {_VALUES} f"

    def run(sql: str) -> None:
        _run(conn, sql, params, now)

    # The contact: each taken field stamped with the record's LastModifiedDate (R5); a Contact
    # in its Account's company, which gives it the company's name (R6, ContactApplier._move).
    columns, selected = ["id"], ["f.contact_id"]
    for name in CONTACT_FIELDS:
        value = values.get(name, "NULL")
        if name == "company_name":
            value = f"CASE WHEN f.company_name IS NOT NULL AND f.company_name <> '' THEN f.company_name ELSE {value} END"
        columns += [name, f"{name}_updated_at"]
        selected += [value, f"CASE WHEN {value} IS NOT NULL THEN f.last_modified_date END"]
    columns += ["email_key", "company_id", "company_id_updated_at", "salesforce_id", "salesforce_object",
                "salesforce_sync", "origin", "push_attempts", "created_at", "updated_at"]
    selected += [f"CASE WHEN {values.get('email', 'NULL')} IS NOT NULL THEN f.email_key END", "f.company_id",
                 "CASE WHEN f.company_id IS NOT NULL THEN f.last_modified_date END", "f.salesforce_id",
                 "f.sobject", "'immediate'", "'salesforce'", "0", ":now", ":now"]
    run(f"INSERT INTO contacts ({', '.join(columns)}) SELECT {', '.join(selected)} {join}")

    # The events: its creation with the values taken, then (a Contact in a company) the move.
    pairs = list(values.items())
    params.update({f"k{i}": name for i, (name, _) in enumerate(pairs)})
    creation = _changes(pg, [(f"k{i}", _pair(pg, "NULL", value), value) for i, (_, value) in enumerate(pairs)])
    old_name = values.get("company_name", "NULL")
    params.update(k_company_id="company_id", k_company_name="company_name")
    renamed = (f"f.company_name IS NOT NULL AND f.company_name <> '' "
               f"AND ({old_name} IS NULL OR {old_name} <> f.company_name)")
    moved = _changes(pg, [("k_company_id", _pair(pg, "NULL", "f.company_id"), "f.company_id"),
                          ("k_company_name", _pair(pg, old_name, "f.company_name"), f"CASE WHEN {renamed} THEN 1 END")])
    event = "INSERT INTO sync_events (id, contact_id, company_id, kind, rule, salesforce_id, changes, detail, run_id, created_at)"
    run(f"""{event} SELECT f.created_event_id, f.contact_id, NULL, 'contact_created', 'R4c', f.salesforce_id,
                   {creation}, :created_from || ' ' || f.sobject || ' ' || f.salesforce_id, :run_id, :now {join}""")
    run(f"""{event} SELECT f.moved_event_id, f.contact_id, f.company_id, 'company_moved', 'R6', f.salesforce_id,
                   {moved}, :account || ' ' || f.account_id, :run_id, :now {join}
            WHERE f.moved_event_id IS NOT NULL""")
    conn.exec_driver_sql(f"DROP TABLE {_VALUES}")
    created_records.drop(conn)


def _run(conn: Connection, sql: str, params: dict, now: dt.datetime) -> None:
    """One statement of `create`, given the parameters it names."""
    used = {key: value for key, value in params.items() if re.search(rf":{key}\b", sql)}
    statement = text(sql)
    if ":now" in sql:
        statement = statement.bindparams(bindparam("now", now, type_=UTCDateTime()))
    conn.execute(statement, used)


def _pair(pg: bool, old: str, new: str) -> str:
    """The JSON [old, new] of one change."""
    return f"jsonb_build_array({old}, {new})" if pg else f"json_array({old}, {new})"


def _changes(pg: bool, members: list[tuple[str, str, str]]) -> str:
    """An event's `changes` as the walk writes them: {key: [old, new]} for each member whose
    condition is not null, NULL when there is none. Members: (key's parameter, pair, condition)."""
    if not members:
        return "NULL"
    if pg:
        built = ", ".join(f"CAST(:{key} AS text), CASE WHEN {condition} IS NOT NULL THEN {pair} END"
                          for key, pair, condition in members)
        return f"NULLIF(jsonb_strip_nulls(jsonb_build_object({built})), '{{}}'::jsonb)"
    built = ", ".join(f":{key}, CASE WHEN {condition} IS NOT NULL THEN {pair} END" for key, pair, condition in members)
    return f"NULLIF(json_patch('{{}}', json_object({built})), '{{}}')"
