"""Sync cycle throughput: seed the sandbox org with N records, run the first sync (the whole org
through the same path as every cycle), then change K records and run one incremental cycle. Both
go through the real sync_job (in process), simple-salesforce over HTTPS, and a real database.

    .venv/bin/python bench/sync_cycle.py --records 5000 --changes 5000
    .venv/bin/python bench/sync_cycle.py --records 100000 --changes 5000 --database postgresql+psycopg2://...
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000, help="Leads + Contacts to seed (half each)")
    parser.add_argument("--accounts", type=int, default=0, help="Accounts to seed (default records/10)")
    parser.add_argument("--changes", type=int, default=5000, help="records changed before the incremental cycle")
    parser.add_argument("--database", default="", help="SQLAlchemy URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-sync-")
    os.environ["CONVERSION_SYNC_DATA_DIR"] = folder
    os.environ["CONVERSION_DATABASE_URL"] = args.database or f"sqlite:///{folder}/conversion.db"
    os.environ["CONVERSION_SYNC_SETTLE_SECONDS"] = "0"
    import dagster as dg
    from sandbox_org.testing import running_sandbox

    from conversion_sync.runner import run_sync_cycle

    with running_sandbox() as sandbox:
        os.environ.update(sandbox.env())
        org = sandbox.org
        accounts = args.accounts or max(1, args.records // 10)
        started = time.perf_counter()
        # The org's history is an hour old, so the incremental cycle's lookback (5 minutes) sees
        # only the changes made for it, as in a real org.
        old = (org.now() - dt.timedelta(hours=1)).isoformat()
        stamps = {"CreatedDate": old, "LastModifiedDate": old, "SystemModstamp": old}
        account_ids = org.seed("Account", [{"Name": f"Account {i}", "Website": f"a{i}.example", **stamps}
                                           for i in range(accounts)])
        half = args.records // 2
        contact_ids = org.seed("Contact", [{"LastName": f"C{i}", "FirstName": "Bench", "Email": f"c{i}@example.com",
                                            "AccountId": account_ids[i % accounts], "Title": "Buyer", **stamps}
                                           for i in range(half)])
        lead_ids = org.seed("Lead", [{"LastName": f"L{i}", "Company": f"Co {i}", "Email": f"l{i}@example.com", **stamps}
                                     for i in range(args.records - half)])
        print(f"seeded {accounts} accounts, {len(contact_ids)} contacts, {len(lead_ids)} leads "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
        instance = dg.DagsterInstance.ephemeral()
        for label in ("first sync", "incremental"):
            if label == "incremental":
                changed = 0
                for i, contact_id in enumerate(contact_ids[: args.changes // 2]):
                    org.update("Contact", contact_id, {"Title": f"Title {i}"})
                    changed += 1
                for i, lead_id in enumerate(lead_ids[: args.changes - changed]):
                    org.update("Lead", lead_id, {"Title": f"Title {i}"})
                time.sleep(0.01)
            org.reset_counters()
            started = time.perf_counter()
            result = run_sync_cycle(instance=instance)
            elapsed = time.perf_counter() - started
            if not result.success:
                print(f"{label}: FAILED: {result.error}", file=sys.stderr)
                return 1
            pulled = sum(result.steps[a].get("pulled", 0) for a in ("salesforce_accounts", "salesforce_contacts",
                                                                    "salesforce_leads"))
            contacts = result.steps["contacts"]
            apis = {a: result.steps[a].get("api") for a in ("salesforce_contacts", "salesforce_leads")}
            print(f"{label}: {pulled} records pulled ({apis}), {contacts.get('applied')} applied "
                  f"(created {contacts.get('created')}, updated {contacts.get('updated')}) in {elapsed:.1f} s "
                  f"= {pulled / elapsed:,.0f} records/s; API calls {org.counters().get('total')}; "
                  f"peak RSS {rss_mib():,.0f} MiB (sandbox included)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
