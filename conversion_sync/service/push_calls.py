"""The push's calls to Salesforce beyond the writes themselves: reading the org's limits only when
a call is about to be made (H3, and 0 calls for a push with nothing to do), and reading the written
records back for Salesforce's own stamps (R5)."""

from __future__ import annotations

import logging
from typing import ClassVar

from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceError

from conversion_sync.errors import ApiBudgetExhausted, SalesforceApiError, SalesforceConnectionError
from conversion_sync.resources.salesforce import SalesforceClient
from conversion_sync.service.extract import select_fields
from conversion_sync.settings.sync import SyncSettings
from conversion_sync.store import staging
from conversion_sync.sync.records import PulledRecord, from_api

log = logging.getLogger(__name__)

READ_BACK_LIMIT = 200         # ids per read-back query (18-character ids: the URL stays short)


class LimitsFirst:
    """The client, reading the org's API usage once just before the run's first call (H3), so
    that the budget is checked before anything is spent and a push with nothing to do spends no
    call at all."""

    _CALLS: ClassVar[frozenset[str]] = frozenset({
        "query", "query_pages", "count", "describe", "field_names", "collection_create",
        "collection_update", "collection_upsert", "bulk_ingest", "bulk_query_pages"})

    def __init__(self, client: SalesforceClient):
        self._client = client
        self._read = False

    def __getattr__(self, name: str):
        attribute = getattr(self._client, name)
        if name not in self._CALLS or self._read:
            return attribute

        def first_call(*args, **kwargs):
            if not self._read:
                self._client.limits()
                self._read = True
            self._client.check_budget()
            return attribute(*args, **kwargs)
        return first_call


def read_back(client, settings: SyncSettings, sobject: str, ids: list[str]) -> dict[str, PulledRecord]:
    """The records just written, as Salesforce now holds them (with its own SystemModstamp and
    LastModifiedDate): one query per 200 ids. Without an answer the push still records what it
    wrote (the next pull brings Salesforce's stamps)."""
    found: dict[str, PulledRecord] = {}
    try:
        for chunk in staging.chunked(sorted(ids), READ_BACK_LIMIT):
            soql = format_soql(f"SELECT {', '.join(select_fields(sobject, settings))} FROM {sobject} "
                               "WHERE Id IN {ids}", ids=list(chunk))
            for raw in client.query(soql):
                record = from_api(sobject, raw)
                found[record.salesforce_id] = record
    except (SalesforceConnectionError, SalesforceApiError, SalesforceError, ApiBudgetExhausted) as exc:
        log.warning("could not read back %d written %s record(s): %s; the next pull brings Salesforce's stamps",
                    len(ids) - len(found), sobject, exc)
    return found
