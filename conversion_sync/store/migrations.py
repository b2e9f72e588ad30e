"""Schema creation and upgrade, versioned in `schema_version`.

The schema grows: an upgrade creates missing tables, adds missing columns and indexes, drops the
indexes no query uses any more (RETIRED_INDEXES: an index holds no data, and each one costs every
write of its table), then runs the data steps of each newer version, in one transaction per
version, under a lock so two processes starting at once do not race. No table or column is ever
dropped. A database newer than this code is refused with a clear sentence.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import Connection, Engine, func, insert, inspect, select
from sqlalchemy.schema import CreateIndex
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from conversion_sync.errors import ConfigError
from conversion_sync.store.lock import hold_lock
from conversion_sync.store.schema import metadata, schema_version

log = logging.getLogger(__name__)

# Bump when the schema in schema.py changes; add a data step below if rows need rewriting.
SCHEMA_VERSION = 10  # 2: salesforce_fields (the describe cache); 3: salesforce_records.created_date,
                     # sync_warnings.field; 4: salesforce_records.value_problem, account_id index;
                     # 5: sync_run_holders (R1); 6: sync_warnings.resolution, resolved_by;
                     # 7: ix_salesforce_records_due (the pending records in apply order);
                     # 8: salesforce_records.values_checked, ix_salesforce_records_master;
                     # 9: lone_records (the records a people step creates set-based);
                     # 10: ix_salesforce_records_pending dropped (RETIRED_INDEXES)

# Indexes of earlier versions that no query uses any more, dropped by an upgrade. Table -> names.
RETIRED_INDEXES = {
    # The apply's pages walk ix_salesforce_records_due; this one only cost each COPY and each
    # record marked applied another index entry (issue 10: 0.6 s of 3.3 s marking 110k records).
    "salesforce_records": ("ix_salesforce_records_pending",),
}

# version -> step run (after the structural reconcile) when upgrading an existing database past
# that version, for changes that rewrite rows rather than add structure. None yet.
DATA_STEPS: dict[int, Callable[[Connection], None]] = {}


def current_version(conn: Connection) -> int | None:
    if not inspect(conn).has_table("schema_version"):
        return None
    return conn.execute(select(func.max(schema_version.c.version))).scalar()


def upgrade(engine: Engine) -> int:
    """Bring the database to SCHEMA_VERSION; a no-op when it is there. Returns the version."""
    with engine.connect() as conn:
        version = current_version(conn)
    if version == SCHEMA_VERSION:
        return version
    if version is not None and version > SCHEMA_VERSION:
        raise ConfigError(
            f"The Conversion database is at schema version {version}, newer than this conversion-sync "
            f"understands ({SCHEMA_VERSION}); upgrade conversion-sync.")
    with hold_lock(engine, "migrate", holder="schema upgrade", wait_seconds=120, record_holder=False), \
            engine.begin() as conn:
            version = current_version(conn)
            if version == SCHEMA_VERSION:
                return version
            _reconcile(conn)
            now = dt.datetime.now(dt.UTC)
            start = (version or 0) + 1
            for step_version in range(start, SCHEMA_VERSION + 1):
                if version is not None and step_version in DATA_STEPS:
                    DATA_STEPS[step_version](conn)
                conn.execute(insert(schema_version).values(version=step_version, applied_at=now))
    log.info("Conversion database schema %s -> %s", version, SCHEMA_VERSION)
    return SCHEMA_VERSION


def _reconcile(conn: Connection) -> None:
    """Create what is missing: tables, then columns and indexes of existing tables."""
    inspector = inspect(conn)
    existing = set(inspector.get_table_names())
    metadata.create_all(conn, checkfirst=True)
    for table in metadata.sorted_tables:
        if table.name not in existing:
            continue
        have = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            column_type = column.type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {column_type}')
            if isinstance(column.default, ScalarElementColumnDefault):
                conn.exec_driver_sql(
                    f'UPDATE "{table.name}" SET "{column.name}" = ?' if conn.dialect.name == "sqlite"
                    else f'UPDATE "{table.name}" SET "{column.name}" = %(v)s',
                    (column.default.arg,) if conn.dialect.name == "sqlite" else {"v": column.default.arg})
        have_indexes = {index["name"] for index in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in have_indexes:
                conn.execute(CreateIndex(index))
        for name in RETIRED_INDEXES.get(table.name, ()):
            if name in have_indexes:
                conn.exec_driver_sql(f'DROP INDEX "{name}"')
