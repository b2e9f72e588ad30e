"""The extract assets: Salesforce Accounts, Contacts and Leads into the mirror (R2), one daily
partition (or a range of them, in one run) at a time; built by `extract_assets` when the
definitions load (the partitions are known only then)."""


import dagster as dg

from conversion_sync.assets.keys import SALESFORCE_ACCOUNTS, SALESFORCE_CONTACTS, SALESFORCE_LEADS
from conversion_sync.assets.push import WaitingPush
from conversion_sync.assets.runtime import (
    BetweenBatches,
    add_partition_counts,
    api_metadata,
    hold_sync,
    partitioned_sync_asset,
    record_step,
    recorded_step,
    run_partitions,
    table_metadata,
    timestamp,
    utcnow,
    window_for,
)
from conversion_sync.partitions import partition_key_for
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.resources.salesforce import SalesforceResource
from conversion_sync.service.extract import extract
from conversion_sync.store import health, watermarks
from conversion_sync.store.schema import salesforce_records

# Per partition: what the run pulled and staged for that day (SystemModstamp).
EXTRACT_COUNTS = ["pulled", "new", "changed", "unchanged", "stale", "related"]
COMPLETENESS = "pulled_all_records"


def _mirror_table(sobject: str) -> dict:
    return table_metadata(salesforce_records, table_name=f"salesforce_records ({sobject})")


def _completeness(stats) -> dg.AssetCheckResult:
    """Extract completeness: a full window (the first sync, a backfill of more than a day) is
    counted with COUNT() first; the pull must bring at least that many records (records that
    change during the pull may add some). A shorter window is not counted (no extra API call)."""
    expected = stats.counts.get("expected")
    pulled = int(stats.counts.get("pulled", 0))
    if expected is None or stats.stopped:
        why = "stopped early" if stats.stopped else "window under a day, not counted"
        return dg.AssetCheckResult(check_name=COMPLETENESS, passed=True,
                                   metadata={"pulled": pulled, "note": why})
    return dg.AssetCheckResult(check_name=COMPLETENESS, passed=pulled >= int(expected),
                               severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"pulled": pulled, "salesforce_count": int(expected),
                                         "missing": max(0, int(expected) - pulled)})


def _extract_asset(partitions_def: dg.PartitionsDefinition, sobject: str, key: dg.AssetKey, switch: str,
                   deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    name = key.to_user_string()

    @partitioned_sync_asset(
        partitions_def,
        key=key,
        deps=deps,
        group_name="salesforce",
        kinds={"salesforce", "sql"},
        metadata=_mirror_table(sobject),
        check_specs=[dg.AssetCheckSpec(COMPLETENESS, asset=key, blocking=False,
                                       description="The pull brought every record Salesforce counts (COUNT()) "
                                                   "in a full window.")],
        description=(f"Salesforce {sobject}s as last seen (the staging mirror), pulled by SystemModstamp window: "
                     "incremental from the watermark, or whole days for a backfill. Deleted and merged "
                     "records come through queryAll."),
    )
    def _extract(context: dg.AssetExecutionContext, salesforce: SalesforceResource,
                 database: ConversionDatabase) -> dg.MaterializeResult:
        settings = database.settings()
        engine = database.engine()
        if not getattr(settings, switch):
            context.log.info("%s are switched off (%s: false); nothing pulled", sobject, switch)
            return dg.MaterializeResult(
                metadata={"skipped": dg.MetadataValue.text(f"{switch} is false")},
                check_results=[dg.AssetCheckResult(check_name=COMPLETENESS, passed=True,
                                                   metadata={"note": f"{switch} is false"})])
        hold_sync(context, database)
        with recorded_step(engine, context.run.run_id, name, run_partitions(context)[-1][0]) as started:
            client = salesforce.client(budget_share=settings.api_budget_share)
            with engine.connect() as conn:
                live = watermarks.live_watermark(conn, sobject)
            now = utcnow()
            window = window_for(context, live_watermark=live, lookback_seconds=settings.lookback_seconds,
                                settle_seconds=settings.settle_seconds, now=now)
            context.log.info("%s: %s", sobject, window.describe())
            pushing = WaitingPush(context, database, salesforce)
            progress = BetweenBatches(context.log.info, pushing)
            try:
                stats = extract(engine, client, settings, sobject, window,
                                partitions=run_partitions(context),
                                run_id=context.run.run_id, now=utcnow, progress=progress)
            finally:
                progress.close()
            stats.counts["api_calls"] = client.usage.total
            record_step(engine, context.run.run_id, name, partition_key_for(window.upper), started, status="success",
                        stats={**stats.counts, "stopped": stats.stopped, "hidden_fields": stats.hidden,
                               "watermark_before": _iso(stats.watermark_before),
                               "watermark_after": _iso(stats.watermark_after)})
            with engine.connect() as conn:
                rows = health.mirror_rows(conn, sobject)
                waiting = health.backlog(conn, (sobject,))
        add_partition_counts(context, stats.by_partition, EXTRACT_COUNTS)
        # The run's own numbers (the same on every partition it covered); the per-day counts
        # above override pulled/new/... for each partition.
        metadata = {
            **_mirror_table(sobject),
            "dagster/row_count": dg.MetadataValue.int(rows),
            "window_pulled": dg.MetadataValue.int(int(stats.counts["pulled"])),
            "api_calls": dg.MetadataValue.int(int(client.usage.total)),
            **api_metadata(client.usage),
            "records_pending": dg.MetadataValue.int(waiting["records_pending"]),
            "records_failed": dg.MetadataValue.int(waiting["records_failed"]),
            "api": dg.MetadataValue.text(stats.api),
            "window": dg.MetadataValue.text(window.describe()),
            "watermark_before": timestamp(stats.watermark_before),
            "watermark_after": timestamp(stats.watermark_after),
            **pushing.metadata(),
        }
        if stats.hidden:   # R5: mapped fields the integration user cannot see, left out of the sync
            metadata["hidden_fields"] = dg.MetadataValue.text(", ".join(f"{sobject}.{n}" for n in stats.hidden))
            context.log.warning("%s: left out %s: Salesforce does not show them to the integration user",
                                sobject, ", ".join(stats.hidden))
        if stats.stopped:
            metadata["stopped"] = dg.MetadataValue.text(stats.stopped)
            context.log.warning(stats.stopped)
        return dg.MaterializeResult(metadata=metadata, check_results=[_completeness(stats)])

    return _extract


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def extract_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """The three extracts. Contacts and Leads name Accounts: pulling Accounts first means the
    related-record look-ups (R6, R7) find them in the mirror instead of calling Salesforce again."""
    return [_extract_asset(partitions_def, "Account", SALESFORCE_ACCOUNTS, "pull_accounts", deps=[]),
            _extract_asset(partitions_def, "Contact", SALESFORCE_CONTACTS, "pull_contacts", deps=[SALESFORCE_ACCOUNTS]),
            _extract_asset(partitions_def, "Lead", SALESFORCE_LEADS, "pull_leads", deps=[SALESFORCE_ACCOUNTS])]
