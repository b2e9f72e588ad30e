"""Push latency with a large pull running (H3: a single immediate push visible in Salesforce within
10 s on average, pull running or not):

    .venv/bin/python bench/push_during_pull.py [--leads 100000] [--every 4] [--db sqlite|URL]

Seeds --leads Leads into a sandbox org (in this process: its CPU is shared with the sync, so the
figures are pessimistic), starts the first sync (the real sync_job, as the sensor runs it) in a
thread, and while it runs enters a contact marked to be sent immediately every --every seconds
(as a form or the API would), timing each until Salesforce holds a Lead with its email.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--every", type=float, default=4.0, help="seconds between two entered contacts")
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres",
                        help="a throwaway PostgreSQL cluster (as bench/run.py starts one) or a SQLite file")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="bench-push-pull-")
    os.makedirs(f"{folder}/dagster_home")
    Path(f"{folder}/dagster_home/dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    from simple_salesforce import format_soql

    from bench._postgres import Postgres
    from bench._sandbox import testing

    postgres = Postgres() if args.db == "postgres" else None
    try:
        return _measure(args, folder, postgres, testing, format_soql)
    finally:
        if postgres is not None:
            postgres.stop()


def _measure(args, folder: str, postgres, testing, format_soql) -> int:
    with testing.running_sandbox() as sandbox:
        org = sandbox.org
        os.environ.update({**sandbox.env(), "CONVERSION_SYNC_DATA_DIR": folder, "DAGSTER_HOME": f"{folder}/dagster_home",
                           "CONVERSION_SYNC_SETTLE_SECONDS": "0",
                           "CONVERSION_DATABASE_URL": postgres.url if postgres else f"sqlite:///{folder}/conversion.db"})
        for base in range(0, args.leads, 50_000):
            org.seed("Lead", [{"LastName": f"Pulled {i}", "Company": "Big Co", "Email": f"pulled.{i}@big.example"}
                              for i in range(base, min(args.leads, base + 50_000))])
        from conversion_sync.config import load_sync_settings
        from conversion_sync.resources.database import ConversionDatabase
        from conversion_sync.runner import dagster_instance, run_sync_cycle
        from conversion_sync.service.entry import identify_entries
        from conversion_sync.sync.identity import Entry

        engine, settings = ConversionDatabase().engine(), load_sync_settings()
        instance = dagster_instance()
        outcome: dict = {}
        started = time.monotonic()

        def cycle() -> None:
            outcome["result"] = run_sync_cycle(instance=instance)
            outcome["seconds"] = time.monotonic() - started

        run = threading.Thread(target=cycle)
        run.start()
        latencies: list[float] = []
        sample = 0
        time.sleep(args.every)
        while run.is_alive():
            sample += 1
            email = f"now.{sample}@waiting.example"
            entered = time.monotonic()
            identify_entries(engine, settings, [Entry(email=email, traits={"last_name": f"Now {sample}"},
                                                      sync="immediate", source="api")])
            while not org.query(format_soql("SELECT Id FROM Lead WHERE Email = {}", email)):
                time.sleep(0.1)
            latencies.append(time.monotonic() - entered)
            print(f"sample {sample}: entered {entered - started:.1f} s into the pull, in Salesforce after "
                  f"{latencies[-1]:.1f} s{'' if run.is_alive() else ' (the run had ended)'}", flush=True)
            time.sleep(max(0.0, args.every - latencies[-1]))
        run.join()
        result = outcome["result"]
        print(f"first sync of {args.leads:,} Leads: {'success' if result.success else result.error} in "
              f"{outcome['seconds']:.1f} s; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        if latencies:
            print(f"push latency with the pull running, {len(latencies)} contacts: mean {statistics.mean(latencies):.1f} s, "
                  f"median {statistics.median(latencies):.1f} s, max {max(latencies):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
