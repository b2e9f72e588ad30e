"""The push asset: Conversion -> Salesforce (P3-P5), after the contacts are matched, under the
same lock and pool as the pull."""

import dagster as dg
from pydantic import Field

from conversion_sync.assets.conversion import contacts
from conversion_sync.assets.runtime import OWNERS, count_metadata, hold_sync, record_step, recorded_step
from conversion_sync.partitions import SYNC_POOL
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.resources.salesforce import SalesforceResource
from conversion_sync.service.push import REJECTED_BY, push
from conversion_sync.store.identity import request_push

PUSH_COUNTS = ["linked_in_salesforce", "created_in_salesforce", "updated_in_salesforce", "fields_pushed",
               "rejected", "mirrored", "api_calls"]


class PushConfig(dg.Config):
    """What to push; by default everything due (queued contacts and Conversion edits)."""

    contact_ids: list[int] = Field(default_factory=list, description="Push these contacts now (P3).")
    all_skipped: bool = Field(default=False, description="Push every contact whose entry skipped the initial sync.")


@dg.asset(
    deps=[contacts],
    pool=SYNC_POOL,
    group_name="salesforce",
    kinds={"salesforce"},
    owners=OWNERS,
    description="Conversion -> Salesforce: queued contacts are linked to an existing Contact/Lead with their "
                "email or created (P4, idempotent); Conversion edits go out as their preference allows (P5). "
                "Launch push_job with contact_ids or all_skipped to push skipped contacts (P3).",
)
def salesforce_push(context: dg.AssetExecutionContext, config: PushConfig, salesforce: SalesforceResource,
                    database: ConversionDatabase) -> dg.MaterializeResult:
    settings, engine = database.settings(), database.engine()
    run_id = context.run.run_id
    hold_sync(context, database)
    with recorded_step(engine, run_id, "salesforce_push", None) as started:
        only = None
        if config.contact_ids or config.all_skipped:
            with engine.begin() as conn:
                only = request_push(conn, contact_ids=config.contact_ids, all_skipped=config.all_skipped)
            context.log.info("pushing %d requested contact(s)", len(only))
        client = salesforce.client(budget_share=settings.api_budget_share)
        result = push(engine, client, settings, now=started, run_id=run_id, contact_ids=only,
                      progress=context.log.info)
        record_step(engine, run_id, "salesforce_push", None, started, status="success",
                    stats={**result.counts, "stopped": result.stopped})
    metadata = count_metadata(result.counts, PUSH_COUNTS)
    # Rejections per Salesforce error code ("rejected/UNABLE_TO_LOCK_ROW": 200), numbers the UI can plot.
    metadata.update({f"{REJECTED_BY}{code}": dg.MetadataValue.int(n)
                     for code, n in sorted(result.rejected_by_code.items())})
    if result.stopped:
        metadata["stopped"] = dg.MetadataValue.text(result.stopped)
        context.log.warning(result.stopped)
    return dg.MaterializeResult(metadata=metadata)
