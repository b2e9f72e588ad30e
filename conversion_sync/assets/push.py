"""The push asset: Conversion -> Salesforce (P3-P5), after the contacts are matched, under the
same lock and pool as the pull."""

import logging
import time
from collections import Counter
from typing import Any

import dagster as dg
from pydantic import Field

from conversion_sync.assets.keys import CONTACTS, SALESFORCE_PUSH
from conversion_sync.assets.runtime import (
    OWNERS,
    SYNC_FRESHNESS,
    BetweenBatches,
    api_metadata,
    count_metadata,
    hold_sync,
    number_metadata,
    record_step,
    recorded_step,
    table_metadata,
    utcnow,
)
from conversion_sync.partitions import SYNC_POOL
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.resources.salesforce import SalesforceResource
from conversion_sync.service.push import REJECTED_BY, push, push_waiting
from conversion_sync.store import health
from conversion_sync.store.identity import request_push
from conversion_sync.store.queries import rejected_push_ids
from conversion_sync.store.schema import contacts as contacts_table

PUSH_COUNTS = ["linked_in_salesforce", "created_in_salesforce", "updated_in_salesforce", "fields_pushed",
               "rejected", "mirrored", "api_calls"]


log = logging.getLogger(__name__)

# A pull step lets waiting contacts out between its batches once it has run this long (a short
# step, every cycle of a quiet org, leaves them to the push at the end of its run, seconds away),
# looking at most this often.
LONG_STEP_SECONDS = 2.0
WAITING_CHECK_SECONDS = 1.0


class WaitingPush:
    """H3 with a pull running: between two batches of a pull step (after each one is committed)
    the contacts waiting for Salesforce go out, in this run and under its hold on the sync, so
    an immediate push does not wait for the end of a long pull and there is still one writer at
    a time (R1). Only in a step that has run LONG_STEP_SECONDS: in a short one the push at the
    end of the run comes within seconds anyway, in the order it always had (the pull's matching
    by email first, then the push). Nothing waits: one indexed query, no API call. It is what a
    push run would do between two sync runs, so every rule holds as it does then (P4 looks
    Salesforce up by email before creating; R5's clock of our writes). A failure here never fails the
    pull: it is logged, no more pushes are tried in this step, and the run's push step at the end
    tries again (H2)."""

    def __init__(self, context: dg.AssetExecutionContext, database: ConversionDatabase,
                 salesforce: SalesforceResource, *, seconds: float = WAITING_CHECK_SECONDS,
                 after: float = LONG_STEP_SECONDS):
        self.context, self.database, self.salesforce, self.seconds = context, database, salesforce, seconds
        self.started, self.after = time.monotonic(), after
        self.client: Any = None
        self.counts: Counter = Counter()
        self.checked_at: float | None = None
        self.broken = False

    def due(self) -> bool:
        """Whether a call now would look for waiting contacts (and may push them). Once true, it
        stays true until a call looks."""
        now = time.monotonic()
        return not (self.broken or now - self.started < self.after
                    or (self.checked_at is not None and now - self.checked_at < self.seconds))

    def __call__(self) -> None:
        if not self.due():
            return
        self.checked_at = time.monotonic()
        settings, engine = self.database.settings(), self.database.engine()
        try:
            if self.client is None:
                self.client = self.salesforce.client(budget_share=settings.api_budget_share)
            result = push_waiting(engine, self.client, settings, now=utcnow(), run_id=self.context.run.run_id,
                                  progress=log.debug)
        except Exception as exc:
            self.broken = True
            self.context.log.warning("could not push the contacts waiting for Salesforce during the pull (%s); "
                                     "the push at the end of this run tries again", exc)
            return
        self.checked_at = time.monotonic()
        if result is None:
            return
        done = {key: result.counts.get(key, 0) for key in ("linked_in_salesforce", "created_in_salesforce",
                                                            "updated_in_salesforce", "rejected")}
        self.counts.update(done)
        self.context.log.info("pushed contacts waiting for Salesforce between two batches: %s",
                              ", ".join(f"{n} {key.replace('_in_salesforce', '')}" for key, n in done.items()))
        if result.stopped:
            self.broken = True

    def metadata(self) -> dict:
        """What went out during the step (H1), beside the step's own counts."""
        return {f"pushed_meanwhile_{key}": dg.MetadataValue.int(int(n)) for key, n in sorted(self.counts.items())}


PUSH_COLUMNS = ["id", "email", "salesforce_id", "salesforce_object", "salesforce_sync", "push_state", "push_error",
                "push_attempts", "push_next_attempt_at"]


def _push_table(row_count: int | None = None) -> dict:
    return table_metadata(contacts_table, table_name="contacts (push state)", row_count=row_count,
                          columns=PUSH_COLUMNS)


class PushConfig(dg.Config):
    """What to push; by default everything due (queued contacts and Conversion edits)."""

    contact_ids: list[int] = Field(default_factory=list, description=(
        "Push these contacts now, by Conversion contact id. In the launchpad: "
        "ops: {salesforce_push: {config: {contact_ids: [12, 57]}}}"))
    all_skipped: bool = Field(default=False, description="Push every contact whose entry skipped the initial sync.")
    retry_failed: bool = Field(default=False, description=(
        "Push now every contact Salesforce rejected (failed, waiting for its retry, or waiting for a "
        "person after too many attempts). In the launchpad: ops: {salesforce_push: {config: {retry_failed: true}}}"))


@dg.asset(
    key=SALESFORCE_PUSH,
    deps=[CONTACTS],
    pool=SYNC_POOL,
    # Its own group: the salesforce and conversion groups hold only the daily-partitioned assets,
    # so "Materialize all" on either (or both) backfills a range as one run; the push is not
    # partitioned (it sends what is due now) and runs at the end of every sync_job.
    group_name="push",
    kinds={"salesforce"},
    owners=OWNERS,
    freshness_policy=SYNC_FRESHNESS,
    metadata=_push_table(),
    description="Conversion -> Salesforce: queued contacts are linked to an existing Contact/Lead with their "
                "email or created (never twice); Conversion edits go out as each field's preference allows. "
                "Launch push_job with contact_ids or all_skipped to push skipped contacts.",
)
def salesforce_push(context: dg.AssetExecutionContext, config: PushConfig, salesforce: SalesforceResource,
                    database: ConversionDatabase) -> dg.MaterializeResult:
    settings, engine = database.settings(), database.engine()
    run_id = context.run.run_id
    hold_sync(context, database)
    with recorded_step(engine, run_id, "salesforce_push", None) as started:
        only = None
        if config.contact_ids or config.all_skipped or config.retry_failed:
            with engine.begin() as conn:
                ids = list(config.contact_ids) + (rejected_push_ids(conn) if config.retry_failed else [])
                only = request_push(conn, contact_ids=ids, all_skipped=config.all_skipped)
            context.log.info("pushing %d requested contact(s)", len(only))
        client = salesforce.client(budget_share=settings.api_budget_share)
        progress = BetweenBatches(context.log.info)      # a line per 5 s, not per 200 contacts
        try:
            result = push(engine, client, settings, now=started, run_id=run_id, contact_ids=only, progress=progress)
        finally:
            progress.close()
        record_step(engine, run_id, "salesforce_push", None, started, status="success",
                    stats={**result.counts, "stopped": result.stopped})
    with engine.connect() as conn:
        waiting = health.backlog(conn)
        errors = health.push_errors_by_code(conn)
        rows, linked = health.table_rows(conn, "contacts"), health.linked_contacts(conn)
    metadata = {**count_metadata(result.counts, PUSH_COUNTS), **_push_table(rows), **api_metadata(client.usage),
                "contacts_linked": dg.MetadataValue.int(linked),
                "contacts_queued": dg.MetadataValue.int(waiting["contacts_queued"]),
                "contacts_failing": dg.MetadataValue.int(waiting["contacts_failing"]),
                **number_metadata("push_errors", errors)}
    # This run's rejections per Salesforce error code ("rejected/UNABLE_TO_LOCK_ROW": 200).
    metadata.update({f"{REJECTED_BY}{code}": dg.MetadataValue.int(n)
                     for code, n in sorted(result.rejected_by_code.items())})
    if result.stopped:
        metadata["stopped"] = dg.MetadataValue.text(result.stopped)
        context.log.warning(result.stopped)
    return dg.MaterializeResult(metadata=metadata)
