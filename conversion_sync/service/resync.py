"""Resync: pull given Salesforce records again by id and make them pending, so the next apply
re-applies them (a resync from the UI or the CLI)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from conversion_sync.config import SyncSettings
from conversion_sync.errors import ConfigError
from conversion_sync.resources.salesforce import SalesforceClient
from conversion_sync.service.extract import FieldLists, records_by_id, related_records
from conversion_sync.store import staging
from conversion_sync.store.queries import salesforce_ids_of
from conversion_sync.sync.ids import KEY_PREFIXES, InvalidSalesforceId, object_for_id, to_18

log = logging.getLogger(__name__)

@dataclass
class ResyncResult:
    requested: list[str] = field(default_factory=list)        # the Salesforce ids asked for, 18 characters
    pulled: Counter = field(default_factory=Counter)          # per object
    requeued: int = 0
    not_found: list[str] = field(default_factory=list)        # not in Salesforce (nor its recycle bin)
    not_linked: list[int] = field(default_factory=list)       # contact ids without a Salesforce record
    unknown_contacts: list[int] = field(default_factory=list)
    switched_off: list[str] = field(default_factory=list)     # objects the settings do not pull
    counts: Counter = field(default_factory=Counter)          # the staging counts (new, changed, ...)


def resolve_ids(engine: Engine, salesforce_ids: Sequence[str], contact_ids: Sequence[int],
                result: ResyncResult) -> dict[str, list[str]]:
    """Object -> 18-character ids to pull: the Salesforce ids given (Accounts, Contacts, Leads)
    and those of the contacts given. A malformed id is refused with one sentence naming it."""
    wanted: list[str] = []
    bad: list[str] = []
    for value in salesforce_ids:
        try:
            wanted.append(to_18(value))
        except InvalidSalesforceId as exc:
            bad.append(str(exc))
    others = [i for i in wanted if object_for_id(i) is None]
    if bad or others:
        kinds = ", ".join(f"{name} ({prefix}...)" for name, prefix in KEY_PREFIXES.items())
        raise ConfigError(" ".join(bad + ([f"{', '.join(others)}: only {kinds} ids can be resynced."]
                                          if others else [])))
    if contact_ids:
        with engine.connect() as conn:
            linked = salesforce_ids_of(conn, contact_ids)
        result.unknown_contacts = sorted({int(i) for i in contact_ids} - set(linked))
        result.not_linked = sorted(i for i, sf_id in linked.items() if sf_id is None)
        wanted.extend(sf_id for sf_id in linked.values() if sf_id is not None)
    by_object: dict[str, list[str]] = {}
    for sf_id in dict.fromkeys(wanted):
        sobject = object_for_id(sf_id)
        if sobject is not None:     # always: ids of other objects were refused above
            by_object.setdefault(sobject, []).append(sf_id)
    result.requested = list(dict.fromkeys(wanted))
    return by_object


def resync(engine: Engine, client: SalesforceClient, settings: SyncSettings, *, salesforce_ids: Sequence[str] = (),
           contact_ids: Sequence[int] = (), run_id: str | None, now: Callable[[], dt.datetime],
           progress: Callable[[str], None] = log.info) -> ResyncResult:
    """Pull the records again (one SOQL `WHERE Id IN (...)` per 200 ids, deleted ones included),
    stage them in the mirror, and make each pending, so the next apply re-applies it even when
    Salesforce has not changed it. The watermarks do not move."""
    result = ResyncResult()
    by_object = resolve_ids(engine, salesforce_ids, contact_ids, result)
    lists = FieldLists(engine, client, settings, now())
    switches = {"Account": settings.pull_accounts, "Contact": settings.pull_contacts, "Lead": settings.pull_leads}
    client.limits()
    client.check_budget()
    for sobject, ids in by_object.items():
        if not switches[sobject]:
            result.switched_off.append(sobject)
            continue
        records = list(records_by_id(client, lists, sobject, ids))
        found = {r.salesforce_id for r in records}
        result.not_found.extend(i for i in ids if i not in found)
        result.pulled[sobject] += len(records)
        with engine.connect() as conn:
            known = staging.known_ids(conn, list(found))
        related = related_records(client, settings, sobject, records, known, engine, lists)
        with engine.begin() as conn:
            result.counts.update(staging.stage_records(conn, records, run_id=run_id, now=now(),
                                                       keep_fields=lists.keep()))
            if related:
                staging.stage_records(conn, related, run_id=run_id, now=now(), keep_fields=lists.keep())
            result.requeued += staging.requeue_records(conn, found)
        progress(f"{sobject}: {len(records)} of {len(ids)} record(s) pulled again")
    return result

