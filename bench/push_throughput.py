"""Push cost: API calls and time to send N contacts to Salesforce (P4 creates, after the batched
look-up by email) and then N field edits (P5 updates), through simple-salesforce over HTTPS.

    .venv/bin/python bench/push_throughput.py --contacts 1000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--bulk-threshold", type=int, default=2000, help="bulk_ingest_threshold for the updates")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-push-")
    os.environ["CONVERSION_SYNC_DATA_DIR"] = folder
    from sandbox_org.testing import running_sandbox

    from conversion_sync.config import load_sync_settings
    from conversion_sync.resources.salesforce import SalesforceResource
    from conversion_sync.service.entry import identify_entries
    from conversion_sync.service.push import push
    from conversion_sync.store.database import open_engine
    from conversion_sync.store.editing import set_contact_field
    from conversion_sync.sync.identity import Entry

    engine = open_engine(f"sqlite:///{folder}/conversion.db")
    settings = load_sync_settings().model_copy(update={"bulk_ingest_threshold": args.bulk_threshold})
    now = lambda: dt.datetime.now(dt.UTC)  # noqa: E731
    with running_sandbox() as sandbox:
        os.environ.update(sandbox.env())
        entries = [Entry(email=f"p{i}@example.com", traits={"first_name": "Push", "last_name": f"P{i}"},
                         sync="immediate") for i in range(args.contacts)]
        outcomes = identify_entries(engine, settings, entries, now=now())
        for label in ("create", "update"):
            if label == "update":
                with engine.begin() as conn:
                    for outcome in outcomes:
                        # Title is empty in Salesforce, so the default preference lets the edit through.
                        set_contact_field(conn, settings.custom_fields, outcome.contact_id, "title", "Buyer", now=now())
                time.sleep(0.01)
            client = SalesforceResource().client()
            started = time.perf_counter()
            result = push(engine, client, settings, now=now(), run_id="bench")
            elapsed = time.perf_counter() - started
            done = result.counts["created_in_salesforce"] if label == "create" else result.counts["updated_in_salesforce"]
            calls = {k: v for k, v in sorted(client.usage.calls.items()) if k != "total"}
            print(f"{label}: {done} contacts in {elapsed:.2f} s ({done / elapsed:,.0f}/s); "
                  f"{client.usage.total} API calls = {1000 * client.usage.total / max(done, 1):.1f} per 1,000 "
                  f"contacts; {calls}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
