"""Asset checks on the contacts: the invariants a marketing team depends on, run with every sync."""


import dagster as dg

from conversion_sync.assets.keys import CONTACTS, SALESFORCE_PUSH
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.store import checks as check_queries
from conversion_sync.store import health


def _sample(rows, limit: int = 20) -> str:
    return ", ".join(str(r) for r in rows[:limit]) + (" ..." if len(rows) > limit else "")


@dg.asset_check(asset=CONTACTS, blocking=False,
                description="No Salesforce id is linked to two contacts.")
def salesforce_id_linked_once(database: ConversionDatabase) -> dg.AssetCheckResult:
    with database.engine().connect() as conn:
        rows = check_queries.ids_linked_twice(conn)
    return dg.AssetCheckResult(passed=not rows, metadata={"ids_linked_twice": len(rows), "sample": _sample(rows)})


@dg.asset_check(asset=CONTACTS, blocking=False,
                description="Every contact linked to Salesforce has an email.")
def linked_contacts_have_email(database: ConversionDatabase) -> dg.AssetCheckResult:
    with database.engine().connect() as conn:
        rows = check_queries.linked_without_email(conn)
    return dg.AssetCheckResult(passed=not rows, metadata={"contacts_without_email": len(rows), "sample": _sample(rows)})


@dg.asset_check(asset=CONTACTS, blocking=False,
                description="Every contact of a Salesforce Contact with an Account is in that Account's company.")
def contacts_in_their_account_company(database: ConversionDatabase) -> dg.AssetCheckResult:
    with database.engine().connect() as conn:
        rows = check_queries.contacts_in_wrong_company(conn)
    return dg.AssetCheckResult(passed=not rows, metadata={"contacts_in_wrong_company": len(rows),
                                                          "sample": _sample(rows)})


@dg.asset_check(asset=CONTACTS, blocking=False,
                description="Contacts sharing an email (allowed, but worth merging): a warning, never a failure.")
def duplicate_emails(database: ConversionDatabase) -> dg.AssetCheckResult:
    with database.engine().connect() as conn:
        rows = check_queries.shared_emails(conn)
    return dg.AssetCheckResult(passed=not rows, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"shared_emails": len(rows), "sample": _sample(rows)})


contact_checks = [salesforce_id_linked_once, linked_contacts_have_email, contacts_in_their_account_company,
                  duplicate_emails]


def _previous_evaluation(instance: dg.DagsterInstance, check_key: dg.AssetCheckKey, run_id: str) -> dict:
    """The metadata of this check's last evaluation in an earlier run (empty if none); this
    run's own record is only planned so far."""
    records = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=5)
    for record in records:
        if record.run_id == run_id or record.event is None or record.event.dagster_event is None:
            continue
        metadata = getattr(record.event.dagster_event.event_specific_data, "metadata", None)
        if metadata:
            return {key: getattr(value, "value", value) for key, value in metadata.items()}
    return {}


@dg.asset_check(asset=CONTACTS, blocking=False,
                description="The backlog is not growing: records failing to apply and contacts failing to push "
                            "are no more than at the previous sync (a warning, never a failure).")
def backlog_not_growing(context: dg.AssetCheckExecutionContext, database: ConversionDatabase) -> dg.AssetCheckResult:
    with database.engine().connect() as conn:
        now = health.backlog(conn)
    before = _previous_evaluation(context.instance, dg.AssetCheckKey(CONTACTS, "backlog_not_growing"),
                                  context.run.run_id)
    failing = now["records_failed"] + now["contacts_failing"]
    failing_before = before.get("failing")
    grew = failing_before is not None and failing > int(failing_before)
    metadata = {**now, "failing": failing}
    if failing_before is not None:    # no made-up value (a -1 plotted) before there is a previous sync
        metadata["failing_at_previous_sync"] = int(failing_before)
    return dg.AssetCheckResult(passed=not grew, severity=dg.AssetCheckSeverity.WARN, metadata=metadata)


@dg.asset_check(asset=SALESFORCE_PUSH, blocking=False,
                description="No contact is failing to push to Salesforce (a warning: each is retried with backoff; "
                            "one that gave up waits for `conversion-sync contacts push ID`).")
def push_errors(database: ConversionDatabase) -> dg.AssetCheckResult:
    with database.engine().connect() as conn:
        errors = health.push_errors_by_code(conn)
    return dg.AssetCheckResult(passed=not errors, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"contacts_failing": sum(errors.values()),
                                         **{f"code_{code.lower()}": n for code, n in errors.items()}})


health_checks = [backlog_not_growing, push_errors]
