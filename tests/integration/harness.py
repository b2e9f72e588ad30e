"""A test harness around one Conversion database and the sandbox org: pull through the very
service functions the assets call (fast), or run the real Dagster sync job (`cycle`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import dagster as dg
from sqlalchemy import select

from conversion_sync.config import load_sync_settings
from conversion_sync.partitions import first_partition_start, partition_bounds, partition_key_for
from conversion_sync.resources.salesforce import SalesforceResource
from conversion_sync.runner import CycleResult, run_sync_cycle
from conversion_sync.service.apply import apply_accounts, apply_people
from conversion_sync.service.extract import extract
from conversion_sync.store import watermarks
from conversion_sync.store.database import open_engine
from conversion_sync.store.schema import companies, contacts, salesforce_records, sync_events, sync_warnings
from conversion_sync.sync.ids import to_18
from conversion_sync.sync.windows import plan_window

OBJECTS = ("Account", "Contact", "Lead")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SyncHarness:
    def __init__(self, database_url: str, sandbox):
        self.url = database_url
        self.sandbox = sandbox
        self.org = sandbox.org
        self.engine = open_engine(database_url)
        self.last_client = None

    # -- running the sync ---------------------------------------------------------------------
    def backfill(self, days: list[str] | None = None, **kwargs) -> dict[str, Counter]:
        """Re-pull whole days (default: today), as a backfill of those partitions does."""
        return self.pull(days=days or [partition_key_for(utcnow())], incremental=False, **kwargs)

    def pull(self, *, apply: bool = True, objects=OBJECTS, days: list[str] | None = None,
             incremental: bool = True) -> dict[str, Counter]:
        """One pull (extract each object, then apply), as the sync job's steps do."""
        settings = load_sync_settings()
        client = SalesforceResource(backoff_seconds=0.01).client(budget_share=settings.api_budget_share)
        self.last_client = client
        now = utcnow()
        today = partition_bounds(days or [partition_key_for(now)])
        results: dict[str, Counter] = {}
        for sobject in objects:
            with self.engine.connect() as conn:
                live = watermarks.live_watermark(conn, sobject)
            window = plan_window(range_start=today[0][1], range_end=today[-1][2],
                                 first_partition_start=first_partition_start(), live_watermark=live,
                                 incremental=incremental, now=utcnow(), lookback_seconds=settings.lookback_seconds,
                                 settle_seconds=settings.settle_seconds)
            stats = extract(self.engine, client, settings, sobject, window, partitions=today, run_id="test",
                            now=utcnow)
            results[sobject] = Counter(stats.counts)
            if stats.stopped:
                results[sobject]["stopped"] = 1
        if apply:
            results["companies"] = apply_accounts(self.engine, settings, run_id="test", now=utcnow())
            results["contacts"] = apply_people(self.engine, settings, run_id="test", now=utcnow())
        results["api_calls"] = Counter(client.usage.calls)
        return results

    def push(self, contact_ids=None, now: dt.datetime | None = None) -> Counter:
        """One push (what the salesforce_push asset does), returning its counts."""
        from conversion_sync.service.push import push

        settings = load_sync_settings()
        client = SalesforceResource(backoff_seconds=0.01).client(budget_share=settings.api_budget_share)
        self.last_client = client
        result = push(self.engine, client, settings, now=now or utcnow(), run_id="test", contact_ids=contact_ids)
        counts = Counter(result.counts)
        counts["stopped"] = int(result.stopped is not None)
        counts.update({f"call:{kind}": n for kind, n in client.usage.calls.items()})
        return counts

    def identify(self, email=None, **kwargs):
        from conversion_sync.service.entry import identify_entries
        from conversion_sync.sync.identity import Entry

        outcome = identify_entries(self.engine, load_sync_settings(), [Entry(email=email, **kwargs)], now=utcnow())[0]
        assert outcome.error is None, outcome.error
        return outcome

    def cycle(self, instance: dg.DagsterInstance | None = None) -> CycleResult:
        """The real sync job, in process (what `conversion-sync sync` and the sensor run)."""
        result = run_sync_cycle(instance=instance or dg.DagsterInstance.ephemeral())
        assert result.success, result.error
        return result

    # -- reading the store --------------------------------------------------------------------
    def contacts(self) -> list[Any]:
        with self.engine.connect() as conn:
            return conn.execute(select(contacts).order_by(contacts.c.id)).all()

    def contact_of(self, salesforce_id: str):
        with self.engine.connect() as conn:
            return conn.execute(select(contacts).where(contacts.c.salesforce_id == to_18(salesforce_id))).first()

    def contact(self, contact_id: int):
        with self.engine.connect() as conn:
            return conn.execute(select(contacts).where(contacts.c.id == contact_id)).first()

    def attribute(self, contact_id: int, name: str):
        from conversion_sync.store.schema import contact_attributes

        with self.engine.connect() as conn:
            return conn.execute(select(contact_attributes.c.value).where(
                contact_attributes.c.contact_id == contact_id, contact_attributes.c.name == name)).scalar()

    def companies(self) -> list[Any]:
        with self.engine.connect() as conn:
            return conn.execute(select(companies).order_by(companies.c.id)).all()

    def company_of(self, account_id: str):
        with self.engine.connect() as conn:
            return conn.execute(select(companies).where(companies.c.salesforce_account_id == to_18(account_id))).first()

    def events(self, contact_id: int | None = None) -> list[Any]:
        query = select(sync_events).order_by(sync_events.c.id)
        if contact_id is not None:
            query = query.where(sync_events.c.contact_id == contact_id)
        with self.engine.connect() as conn:
            return conn.execute(query).all()

    def warnings(self) -> list[Any]:
        with self.engine.connect() as conn:
            return conn.execute(select(sync_warnings).order_by(sync_warnings.c.id)).all()

    def staged(self, salesforce_id: str):
        with self.engine.connect() as conn:
            return conn.execute(select(salesforce_records)
                                .where(salesforce_records.c.salesforce_id == to_18(salesforce_id))).first()

    def snapshot(self) -> dict[str, list]:
        """The store's user-visible content, for comparing two runs."""
        with self.engine.connect() as conn:
            return {
                "contacts": [tuple(r) for r in conn.execute(select(contacts).order_by(contacts.c.id))],
                "companies": [tuple(r) for r in conn.execute(select(companies).order_by(companies.c.id))],
                "events": conn.execute(select(sync_events.c.id)).scalars().all(),
                "warnings": conn.execute(select(sync_warnings.c.id)).scalars().all(),
            }
