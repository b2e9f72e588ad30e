"""The Conversion schema (SPEC §3), declared once in SQLAlchemy Core; same names on SQLite and
PostgreSQL. Every timestamp is UTC and comes back timezone-aware on both databases."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from conversion_sync.sync.fields import COMPANY_FIELDS, CONTACT_FIELDS
from conversion_sync.sync.values import MAX_EMAIL_KEY_LENGTH


class UTCDateTime(TypeDecorator):
    """Stores UTC; returns aware datetimes (SQLite keeps naive text, PostgreSQL timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        zone = value.tzinfo
        if zone is dt.UTC:          # what PostgreSQL gives in a UTC session: nothing to convert
            return value
        if zone is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


JSONType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
# Integer keys that autoincrement on both databases (SQLite needs INTEGER PRIMARY KEY).
IdType = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()


def _field_columns(names: tuple[str, ...]) -> list[Column]:
    """A value column and its own updated_at for every synced field (R5)."""
    columns: list[Column] = []
    for name in names:
        columns.append(Column(name, Text))
        columns.append(Column(f"{name}_updated_at", UTCDateTime))
    return columns


schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", UTCDateTime, nullable=False),
)

companies = Table(
    "companies", metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    *_field_columns(COMPANY_FIELDS),
    Column("salesforce_account_id", String(18), unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

contacts = Table(
    "contacts", metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    *_field_columns(CONTACT_FIELDS),
    # Trimmed, lower-cased email: the matching key of R4b and P2.
    Column("email_key", String(MAX_EMAIL_KEY_LENGTH), index=True),
    Column("company_id", IdType, ForeignKey("companies.id", ondelete="SET NULL"), index=True),
    Column("company_id_updated_at", UTCDateTime),
    Column("salesforce_id", String(18), unique=True),
    Column("salesforce_object", String(16)),
    Column("salesforce_sync", String(16), nullable=False, default="immediate"),
    Column("origin", String(32), nullable=False),  # salesforce, form, csv, api
    # Last edit made in Conversion (entry, `contacts set`, merge); None for contacts that hold
    # nothing but Salesforce's data.
    Column("edited_in_conversion_at", UTCDateTime),
    # Push state (P3-P5, H2): queued -> pushed, or failed with an error and a next attempt.
    Column("push_state", String(16), index=True),
    Column("push_error", Text),
    Column("push_attempts", Integer, nullable=False, default=0),
    Column("push_next_attempt_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

contact_attributes = Table(
    # Values of the custom fields declared in the sync settings, each with its own updated_at.
    "contact_attributes", metadata,
    Column("contact_id", IdType, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", Text),
    Column("updated_at", UTCDateTime),
)

contact_identifiers = Table(
    "contact_identifiers", metadata,
    Column("contact_id", IdType, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("value", String(512), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("kind", "value", name="uq_contact_identifiers_kind_value"),
)

sync_warnings = Table(
    "sync_warnings", metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("contact_id", IdType, ForeignKey("contacts.id", ondelete="SET NULL"), index=True),
    Column("related_contact_ids", JSONType),
    Column("salesforce_id", String(18)),
    # The Salesforce field a warning is about ("Contact.MailingCity" for field_hidden).
    Column("field", String(120)),
    Column("message", Text, nullable=False),
    Column("run_id", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
    # Who closed it and how: "resolved" or "dismissed" by a person (`warnings resolve/dismiss`);
    # both null when the sync resolved it itself (a hidden field visible again).
    Column("resolution", String(16)),
    Column("resolved_by", String(120)),
)

sync_events = Table(
    # The audit trail of R9: what changed, from which value to which, why, in which run.
    "sync_events", metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("contact_id", IdType, index=True),
    Column("company_id", IdType, index=True),
    Column("kind", String(40), nullable=False),
    Column("rule", String(16), nullable=False),
    Column("salesforce_id", String(18)),
    Column("changes", JSONType),
    Column("detail", Text),
    Column("run_id", String(64), index=True),
    Column("created_at", UTCDateTime, nullable=False),
)

salesforce_records = Table(
    # The mirror of Salesforce: what each Lead, Contact and Account last said (staging).
    "salesforce_records", metadata,
    Column("salesforce_id", String(18), primary_key=True),
    Column("sobject", String(16), nullable=False),
    Column("system_modstamp", UTCDateTime, nullable=False),
    Column("last_modified_date", UTCDateTime, nullable=False),
    Column("is_deleted", Boolean, nullable=False, default=False),
    Column("master_record_id", String(18)),
    Column("email_key", String(MAX_EMAIL_KEY_LENGTH)),
    Column("account_id", String(18)),
    Column("is_converted", Boolean, nullable=False, default=False),
    Column("converted_contact_id", String(18)),
    Column("converted_account_id", String(18)),
    Column("created_date", UTCDateTime),                  # CreatedDate (Contacts; R7)
    Column("fields", JSONType, nullable=False),          # values as last pulled (or pushed)
    # A pulled value the database cannot hold (stored with U+FFFD in `fields`): the record stays
    # pending with this error until Salesforce sends a good value (H2).
    Column("value_problem", Text),
    # True when `value_problem` holds every reason the values cannot be applied (rows staged
    # before schema 8 hold only the unstorable ones): only such rows are created set-based.
    Column("values_checked", Boolean, nullable=False, default=False),
    Column("applied_fields", JSONType),                  # values when last applied to Conversion
    Column("applied_modstamp", UTCDateTime),
    Column("pending", Boolean, nullable=False, default=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt_at", UTCDateTime),
    Column("pulled_at", UTCDateTime, nullable=False),
    Column("run_id", String(64)),
    # The records still to apply, in the order they apply (R4e): the apply's keyset pages walk
    # this index instead of sorting every pending record for each page (issue 10).
    Index("ix_salesforce_records_due", "system_modstamp", "salesforce_id",
          postgresql_where=text("pending IS true"), sqlite_where=text("pending IS 1")),
    Index("ix_salesforce_records_converted_contact", "converted_contact_id"),
    # The records merged into each survivor (R8): a record another one names is never created
    # set-based (store/first_load.py).
    Index("ix_salesforce_records_master", "master_record_id",
          postgresql_where=text("master_record_id IS NOT NULL"), sqlite_where=text("master_record_id IS NOT NULL")),
    Index("ix_salesforce_records_email_key", "email_key"),
    Index("ix_salesforce_records_account", "account_id"),    # an Account's Contacts (R6 requeue)
)

lone_records = Table(
    # The pending Leads and Contacts of the running people step that only create a contact
    # whatever else the mirror says (store/first_load.py `classify`): filled when the step
    # starts, emptied when it starts and ends, so rows a killed step left are never read.
    "lone_records", metadata,
    Column("salesforce_id", String(18), primary_key=True),
)

sync_watermarks = Table(
    # One watermark per object and daily partition (R2), advanced with the rows it covers.
    "sync_watermarks", metadata,
    Column("sobject", String(16), primary_key=True),
    Column("partition_key", String(16), primary_key=True),
    Column("watermark", UTCDateTime, nullable=False),
    # True on the row holding the live (incremental) watermark: the end of a window with no gap
    # behind it. Backfills write their days' watermarks with False.
    Column("is_live", Boolean, nullable=False, default=False),
    Column("window_start", UTCDateTime),
    Column("records", Integer, nullable=False, default=0),
    Column("run_id", String(64)),
    Column("updated_at", UTCDateTime, nullable=False),
)

sync_runs = Table(
    "sync_runs", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("step", String(40), primary_key=True),
    Column("partition_key", String(40)),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("status", String(16), nullable=False),
    Column("stats", JSONType),
    Column("error", Text),
)

sync_lock = Table(
    # Who holds the sync lock (R1), for messages; the lock itself is an advisory/file lock.
    "sync_lock", metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(200)),
    Column("acquired_at", UTCDateTime),
)

sync_run_holders = Table(
    # R1: which process holds (or waits for) the sync for which run, and when it last said it was
    # alive. A run whose holder is gone is marked failed so it never blocks the schedule.
    "sync_run_holders", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("lock_name", String(32), nullable=False),
    Column("holder", String(200)),                   # what holds it, in words ("conversion-sync sync")
    Column("pid", Integer, nullable=False),
    Column("host", String(255), nullable=False),
    Column("process_started", String(32)),           # the pid's start time, to tell a reused pid apart
    Column("state", String(16), nullable=False),     # waiting, holding, released, dead
    Column("waiting_since", UTCDateTime, nullable=False),
    Column("acquired_at", UTCDateTime),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("released_at", UTCDateTime),
    Index("ix_sync_run_holders_state", "lock_name", "state"),
)

salesforce_fields = Table(
    # What the org's describe said about each object's fields (read-only ones are never pushed
    # and always take Salesforce's value, R5); refreshed once a day.
    "salesforce_fields", metadata,
    Column("sobject", String(16), primary_key=True),
    Column("fields", JSONType, nullable=False),     # name -> {"updateable": bool, "createable": bool}
    Column("fetched_at", UTCDateTime, nullable=False),
)
