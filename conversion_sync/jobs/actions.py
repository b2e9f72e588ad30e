"""What a person starts from the UI (Jobs > Launchpad, no partition to pick): `sync_now_job` (the
sensor's incremental cycle, now) and `resync_job` (pull given records again and re-apply them)."""


import dagster as dg
from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType  # not exported at the top
from pydantic import Field

from conversion_sync.assets.runtime import hold_sync, utcnow
from conversion_sync.partitions import SYNC_RUN_TAG
from conversion_sync.resources.database import ConversionDatabase
from conversion_sync.resources.salesforce import SalesforceResource
from conversion_sync.service.failures import domain_error, sentence
from conversion_sync.service.resync import resync as pull_again

# A successful run of either job asks sync_sensor for a cycle now (jobs/sensors.py).
REQUEST_JOB_NAMES = ("sync_now_job", "resync_job")
SENSOR_NAME = "sync_sensor"


def _sensor_stopped(instance: dg.DagsterInstance) -> bool:
    """True when sync_sensor was switched off in the UI (no stored state: its default, running)."""
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.instigator_name == SENSOR_NAME:
            return state.status == InstigatorStatus.STOPPED
    return False


def _requested(context: dg.OpExecutionContext, what: str) -> None:
    if _sensor_stopped(context.instance):
        raise dg.Failure(description=f"{what}, but sync_sensor is stopped, so no cycle starts: start it under "
                                     "Automation, or run `conversion-sync sync`.")
    context.log.info("%s: sync_sensor starts the incremental cycle within seconds (after a running sync, if any)",
                     what)


@dg.op(description="Asks sync_sensor for the incremental cycle now, instead of at its next 5-minute mark.")
def request_sync(context: dg.OpExecutionContext) -> None:
    _requested(context, "Sync requested")


@dg.job(description="Sync now: the same incremental cycle sync_sensor starts every 5 minutes, started within "
                    "seconds (no partition to pick). Launch it with an empty config.",
        executor_def=dg.in_process_executor)
def sync_now_job():
    request_sync()


class ResyncConfig(dg.Config):
    """Which records to pull again from Salesforce and re-apply."""

    salesforce_ids: list[str] = Field(default_factory=list, description=(
        "Salesforce Account, Contact or Lead ids (15 or 18 characters). In the launchpad: "
        "ops: {resync: {config: {salesforce_ids: [\"00Q5e00000AbCdE\"]}}}"))
    contact_ids: list[int] = Field(default_factory=list, description=(
        "Conversion contact ids: the Salesforce record each is linked to is pulled again. In the launchpad: "
        "ops: {resync: {config: {contact_ids: [12, 57]}}}"))


@dg.op(description="Pulls the given records again from Salesforce into the mirror and marks them to be applied; "
                   "the sync cycle it then asks for re-applies them to companies and contacts.")
def resync(context: dg.OpExecutionContext, config: ResyncConfig, salesforce: SalesforceResource,
           database: ConversionDatabase) -> None:
    if not config.salesforce_ids and not config.contact_ids:
        raise dg.Failure(description="Nothing to resync: give salesforce_ids or contact_ids in the launchpad, e.g. "
                                     "ops: {resync: {config: {contact_ids: [12, 57]}}}")
    settings, engine = database.settings(), database.engine()
    hold_sync(context, database)            # not while a sync cycle writes the mirror
    client = salesforce.client(budget_share=settings.api_budget_share)
    try:
        result = pull_again(engine, client, settings, salesforce_ids=config.salesforce_ids,
                        contact_ids=config.contact_ids, run_id=context.run.run_id, now=utcnow,
                        progress=context.log.info)
    except Exception as exc:
        error = domain_error(exc)
        if error is None:
            raise
        raise dg.Failure(description=sentence(error)) from error
    notes = []
    if result.not_found:
        notes.append(f"not in Salesforce: {', '.join(result.not_found)}")
    if result.not_linked:
        notes.append(f"contacts not linked to Salesforce: {', '.join(map(str, result.not_linked))}")
    if result.unknown_contacts:
        notes.append(f"no such contacts: {', '.join(map(str, result.unknown_contacts))}")
    if result.switched_off:
        notes.append(f"not pulled (switched off in the settings): {', '.join(result.switched_off)}")
    for note in notes:
        context.log.warning(note)
    context.log.info("%d record(s) pulled again, %d marked to be applied", sum(result.pulled.values()),
                     result.requeued)
    if result.requeued:
        _requested(context, f"{result.requeued} record(s) to re-apply")


@dg.job(
    description="Resync given records: pull them again from Salesforce (by Salesforce id, or the records given "
                "contacts are linked to) and re-apply them in the sync cycle that follows within seconds. To push "
                "contacts again, launch push_job with contact_ids or retry_failed.",
    tags={SYNC_RUN_TAG: "true", "dagster/max_runtime": "3600"},
    executor_def=dg.in_process_executor,
    # Shown (and editable) in the launchpad, so a person sees where the ids go.
    config={"ops": {"resync": {"config": {"salesforce_ids": [], "contact_ids": []}}}},
)
def resync_job():
    resync()
