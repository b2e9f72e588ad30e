"""Issue 10: the extract reads the mirror once per chunk. A record the chunk holds twice (edited
while its pages were read, so its two copies fall on different days) is staged once, as its
newest copy: never inserted twice, never overwritten by the older copy."""

import datetime as dt
from collections import Counter

from sqlalchemy import func, select

from conversion_sync.config import load_sync_settings
from conversion_sync.service import extract
from conversion_sync.store import staging
from conversion_sync.store.schema import salesforce_records
from conversion_sync.sync.records import from_api
from conversion_sync.sync.windows import PullWindow

DAY1 = dt.datetime(2026, 3, 1, 23, 59, 59, tzinfo=dt.UTC)
DAY2 = dt.datetime(2026, 3, 2, 0, 0, 5, tzinfo=dt.UTC)


def _account(name: str, stamp: dt.datetime, sf_id: str = "001000000000001AAA") -> dict:
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return {"Id": sf_id, "IsDeleted": False, "MasterRecordId": None, "Name": name,
            "LastModifiedDate": text, "SystemModstamp": text}


def test_a_record_twice_in_one_chunk_is_staged_once_as_its_newest_copy(engine):
    settings = load_sync_settings()
    newer, older = from_api("Account", _account("Acme (renamed)", DAY2)), from_api("Account", _account("Acme", DAY1))
    other = from_api("Account", _account("Globex", DAY1, "001000000000002AAA"))
    stats = extract.ExtractStats("Account", PullWindow(lower=None, upper=DAY2, incremental=False, advances_live_watermark=True))
    # Accounts name no related record, so the chunk needs nothing from Salesforce.
    lists = extract.FieldLists(engine, None, settings, DAY2)
    extract._stage(engine, None, settings, "Account", [newer, other, older], stats, "run-1", DAY2, lists,
                   lambda stamp: stamp.date().isoformat())
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(salesforce_records)).scalar()
        held = staging.staged_records(conn, ["001000000000001AAA"])["001000000000001AAA"]
    assert rows == 2
    assert held.fields["Name"] == "Acme (renamed)" and held.system_modstamp == DAY2
    assert stats.counts == Counter(new=2)
