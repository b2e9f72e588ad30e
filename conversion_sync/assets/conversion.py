"""The Conversion assets: companies (R6, from Accounts) and matched contacts (R3-R5, R7, R8); built
by `conversion_assets` when the definitions load (the partitions are known only then)."""



import dagster as dg

from conversion_sync.assets.keys import COMPANIES, CONTACTS, SALESFORCE_ACCOUNTS, SALESFORCE_CONTACTS, SALESFORCE_LEADS
from conversion_sync.assets.push import WaitingPush
from conversion_sync.assets.runtime import (
    BetweenBatches,
    add_partition_counts,
    hold_sync,
    number_metadata,
    partitioned_sync_asset,
    record_step,
    recorded_step,
    run_partitions,
    table_metadata,
)
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.resources.salesforce import SalesforceResource
from conversion_sync.service.apply import ApplyCounts, apply_accounts, apply_people
from conversion_sync.store import health
from conversion_sync.store.schema import companies as companies_table
from conversion_sync.store.schema import contacts as contacts_table
from conversion_sync.store.warnings import run_warnings
from conversion_sync.sync.windows import partition_finder

WARNING_KINDS = ("duplicate_email", "duplicate", "push_error", "field_hidden")
COMPANY_COUNTS = ["applied", "created", "updated", "unlinked", "failed"]
CONTACT_COUNTS = ["applied", "created", "linked_by_id", "linked_by_email", "updated", "moved_company",
                  "relinked", "unlinked", "folded", "skipped_no_email", "skipped_converted", "failed", "warnings"]


def conversion_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """companies (from the Account mirror) and contacts (from the Contact and Lead mirrors)."""

    @partitioned_sync_asset(
        partitions_def,
        key=COMPANIES,
        deps=[SALESFORCE_ACCOUNTS, SALESFORCE_CONTACTS, SALESFORCE_LEADS],
        group_name="conversion",
        kinds={"sql"},
        metadata=table_metadata(companies_table, table_name="companies"),
        description="Companies: one per Salesforce Account, linked by Account id; a deleted Account "
                    "unlinks its company. Field values follow each field's sync preference.",
    )
    def companies(context: dg.AssetExecutionContext, database: ConversionDatabase,
                  salesforce: SalesforceResource) -> dg.MaterializeResult:
        counts, waiting = _apply_step(context, database, salesforce, "companies", apply_accounts)
        add_partition_counts(context, counts.by_partition, COMPANY_COUNTS)
        with database.engine().connect() as conn:
            rows = health.table_rows(conn, "companies")
        return dg.MaterializeResult(metadata={**table_metadata(companies_table, table_name="companies", row_count=rows),
                                              "run_applied": dg.MetadataValue.int(int(counts["applied"])),
                                              **waiting.metadata()})

    @partitioned_sync_asset(
        partitions_def,
        key=CONTACTS,
        deps=[COMPANIES, SALESFORCE_CONTACTS, SALESFORCE_LEADS],
        group_name="conversion",
        kinds={"sql"},
        metadata=table_metadata(contacts_table, table_name="contacts"),
        description="Contacts matched to Salesforce Leads and Contacts: by Salesforce id, then by email, "
                    "else created; field values follow each field's sync preference; each contact is in its "
                    "Account's company; a converted Lead hands its contact to the Contact; Salesforce deletes "
                    "and merges unlink or fold contacts; every change is kept in the contact's history "
                    "(sync_events).",
    )
    def contacts(context: dg.AssetExecutionContext, database: ConversionDatabase,
                 salesforce: SalesforceResource) -> dg.MaterializeResult:
        counts, waiting = _apply_step(context, database, salesforce, "contacts", apply_people)
        add_partition_counts(context, counts.by_partition, CONTACT_COUNTS)
        metadata = {"run_applied": dg.MetadataValue.int(int(counts["applied"])), **health_metadata(database.engine()),
                    **waiting.metadata()}
        metadata["new_warnings"] = dg.MetadataValue.md(_warnings_table(database.engine(), context.run.run_id))
        return dg.MaterializeResult(metadata=metadata)

    return [companies, contacts]


def health_metadata(engine) -> dict:
    """The sync's health as numbers, plotted over time: the contacts table's rows, the backlog
    (records to apply, failing; contacts queued for Salesforce, failing), open warnings by kind
    and push errors by Salesforce error code."""
    with engine.connect() as conn:
        rows = health.table_rows(conn, "contacts")
        waiting = health.backlog(conn)
        warnings = health.open_warnings_by_kind(conn)
        errors = health.push_errors_by_code(conn)
    return {**table_metadata(contacts_table, table_name="contacts", row_count=rows),
            **{key: dg.MetadataValue.int(value) for key, value in waiting.items()},
            **number_metadata("open_warnings", warnings, WARNING_KINDS),
            **number_metadata("push_errors", errors)}


def _apply_step(context: dg.AssetExecutionContext, database: ConversionDatabase, salesforce: SalesforceResource,
                step: str, apply) -> tuple[ApplyCounts, WaitingPush]:
    """Apply the mirror's pending records under the sync lock, and record the step for `status`.
    Between two batches the contacts waiting for Salesforce go out (H3, assets.push.WaitingPush)."""
    engine, settings, run_id = database.engine(), database.settings(), context.run.run_id
    partitions = run_partitions(context)
    partition = partitions[-1][0]
    hold_sync(context, database)
    waiting = WaitingPush(context, database, salesforce)
    with recorded_step(engine, run_id, step, partition) as started:
        progress = BetweenBatches(context.log.info, waiting)
        try:
            counts = apply(engine, settings, run_id=run_id, now=started, progress=progress,
                           partition_of=partition_finder(partitions))
        finally:
            progress.close()
        record_step(engine, run_id, step, partition, started, status="success", stats=counts)
    return counts, waiting


def _warnings_table(engine, run_id: str, limit: int = 50) -> str:
    with engine.connect() as conn:
        rows = run_warnings(conn, run_id, limit + 1)
    if not rows:
        return "No new warnings."
    lines = ["| kind | contact | message |", "|---|---|---|"]
    for kind, contact_id, message in rows[:limit]:
        lines.append(f"| {kind} | {contact_id} | {message.replace('|', '/')} |")
    if len(rows) > limit:
        lines.append("| ... | | more in `conversion-sync warnings list` |")
    return "\n".join(lines)
