"""The benchmark of issue 10, in one command:

    .venv/bin/python bench/run.py --scale 0.1 [--db sqlite|postgres] [--out bench/results.json]

Starts the sandbox org in its own process (its CPU is not the sync's), seeds W1 (100k Accounts,
500k Contacts, 500k Leads at --scale 1; 300k existing Conversion contacts, half matching a Contact
by email), measures the floor in the same run (the same fields through simple-salesforce's Bulk
API 2.0, COPYed into PostgreSQL or executemany-inserted into SQLite, no rules), then runs through
the real `sync_job`, each in a fresh process (so peak RSS is the sync's own):
  W1 first sync; W2 10k changes of mixed kinds; W3 10k new contacts marked for immediate push;
  W4 the cycle after W2 and W3 (must make 0 write calls).
Prints a table and writes results.json: per workload records, seconds, records_per_second,
floor_seconds, ratio_to_floor, peak_rss_mib, api_calls, and the CPU seconds the sync process
and the PostgreSQL cluster used (steadier than wall time when the machine is shared; the load
average is printed beside them).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WRITE_KINDS = ("sobject_create", "sobject_update", "sobject_upsert", "sobject_delete", "collections_create",
               "collections_update", "collections_upsert", "collections_delete", "bulk_ingest")


# -- the org's process ---------------------------------------------------------------------------
def org_main(pipe) -> None:
    """Serve the sandbox org and answer the coordinator's requests until told to stop."""
    from bench import workload
    from bench._sandbox import testing

    with testing.running_sandbox() as sandbox:
        org = sandbox.org
        pipe.send(sandbox.env())
        while True:
            command, kwargs = pipe.recv()
            if command == "stop":
                pipe.send(None)
                return
            try:
                if command == "seed_w1":
                    answer = workload.seed_w1(org, **kwargs)
                elif command == "changes_w2":
                    answer = workload.changes_w2(org, **kwargs)
                elif command == "counters":
                    answer = org.counters()
                elif command == "reset_counters":
                    answer = org.reset_counters()
                elif command == "now":
                    answer = org.now()
                else:
                    raise ValueError(command)
                pipe.send(("ok", answer))
            except Exception as exc:  # reported to the coordinator, which stops
                pipe.send(("error", repr(exc)))


class Org:
    def __init__(self) -> None:
        context = mp.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=org_main, args=(child,), daemon=True)
        self.process.start()
        self.env = self.pipe.recv()

    def __call__(self, command: str, **kwargs):
        self.pipe.send((command, kwargs))
        status, answer = self.pipe.recv()
        if status != "ok":
            raise RuntimeError(f"the sandbox org failed on {command}: {answer}")
        return answer

    def stop(self) -> None:
        self.pipe.send(("stop", {}))
        self.pipe.recv()
        self.process.join(30)


# -- measured steps, each in a fresh process ------------------------------------------------------
def _in_child(target, *args):
    context = mp.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_child_main, args=(child, target, args))
    process.start()
    result = parent.recv()
    process.join()
    if "error" in result:
        raise RuntimeError(result["error"])
    return result


def _child_main(pipe, target, args) -> None:
    import traceback

    try:
        result = target(*args)
        result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    except Exception:
        result = {"error": traceback.format_exc()}
    pipe.send(result)


def sync_step(env: dict[str, str], profile: str | None = None) -> dict:
    """One sync_job cycle, as the sensor launches it."""
    os.environ.update(env)
    from conversion_sync.runner import dagster_instance, run_sync_cycle

    instance = dagster_instance()
    collecting = _GcClock()
    started, cpu_before = time.perf_counter(), _cpu_seconds(resource.getrusage(resource.RUSAGE_SELF))
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(run_sync_cycle, instance=instance)
        profiler.dump_stats(profile)
    else:
        result = run_sync_cycle(instance=instance)
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds(resource.getrusage(resource.RUSAGE_SELF)) - cpu_before
    collecting.stop()
    if not result.success:
        return {"error": f"sync_job failed: {result.error}"}
    pulled = sum(result.steps.get(a, {}).get("pulled", 0) for a in
                 ("salesforce_accounts", "salesforce_contacts", "salesforce_leads"))
    push = result.steps.get("salesforce_push", {})
    return {"seconds": seconds, "cpu_seconds": cpu, "gc_seconds": round(collecting.seconds, 2),
            "gc_collections": collecting.collections, "pulled": pulled, "steps": dict(result.steps.items()), "push": push,
            **_step_times(instance, result.run_id)}


class _GcClock:
    """Seconds Python's cyclic garbage collector ran (every generation), from now until stop()."""

    def __init__(self) -> None:
        import gc

        self.seconds, self.collections, self._started = 0.0, Counter(), 0.0
        self._gc = gc
        gc.callbacks.append(self._tick)

    def _tick(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections[f"gen{info['generation']}"] += 1

    def stop(self) -> None:
        self._gc.callbacks.remove(self._tick)


def _cpu_seconds(usage) -> float:
    return usage.ru_utime + usage.ru_stime


def _step_times(instance, run_id: str) -> dict:
    """Seconds per step (its first to its last event) and the run's Dagster events and log lines:
    where an unprofiled cycle's time goes."""
    entries = instance.all_logs(run_id)
    import dagster as dg

    spans: dict[str, list[float]] = {}
    for entry in entries:   # from the step's STEP_START (the run's first events name every step) to its last event
        if not entry.step_key:
            continue
        if entry.dagster_event_type == dg.DagsterEventType.STEP_START:
            spans[entry.step_key] = [entry.timestamp, entry.timestamp]
        elif entry.step_key in spans:
            spans[entry.step_key][1] = max(spans[entry.step_key][1], entry.timestamp)
    run_span = (entries[-1].timestamp - entries[0].timestamp) if entries else 0.0
    return {"step_seconds": {key: round(end - start, 2) for key, (start, end) in spans.items()},
            "run_seconds_in_event_log": round(run_span, 2),
            "dagster_events": sum(1 for e in entries if e.is_dagster_event),
            "log_lines": sum(1 for e in entries if not e.is_dagster_event)}


def floor_step(env: dict[str, str], api: str, since: str | None) -> dict:
    """The floor: the same fields fetched through simple-salesforce (Bulk API 2.0 for the first
    sync, a REST query for a change window) and loaded into a bare table, no rules."""
    os.environ.update(env)
    import csv
    import io

    import requests
    from simple_salesforce import Salesforce
    from sqlalchemy import create_engine

    from conversion_sync.config import load_sync_settings
    from conversion_sync.service.extract import select_fields

    settings = load_sync_settings()
    session = requests.Session()
    session.verify, session.trust_env = env["SALESFORCE_CA_BUNDLE"], False
    token = session.post(f"{env['SALESFORCE_INSTANCE_URL']}/services/oauth2/token",
                         data={"grant_type": "client_credentials", "client_id": env["SALESFORCE_CLIENT_ID"],
                               "client_secret": env["SALESFORCE_CLIENT_SECRET"]}, timeout=30).json()["access_token"]
    sf = Salesforce(instance_url=env["SALESFORCE_INSTANCE_URL"], session_id=token, session=session)
    url = env["BENCH_FLOOR_URL"]
    engine = create_engine(url)
    postgres = url.startswith("postgresql")
    started = time.perf_counter()
    records = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for sobject in ("Account", "Contact", "Lead"):
            fields = select_fields(sobject, settings)
            table = f"floor_{sobject.lower()}"
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(f"CREATE TABLE {table} ({', '.join(f'{name} TEXT' for name in fields)})")
            where = f" WHERE SystemModstamp > {since}" if since else ""
            soql = f"SELECT {', '.join(fields)} FROM {sobject}{where}"
            if api == "bulk2":
                pages = (chunk for chunk in getattr(sf.bulk2, sobject).query_all(soql, max_records=50_000, wait=0.2))
            else:
                pages = _rest_csv_pages(sf, soql, fields)
            for chunk in pages:
                if postgres:
                    cursor.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)", io.StringIO(chunk))
                    records += chunk.count("\n") - 1   # approximate (quoted newlines) only for the count
                else:
                    reader = csv.reader(io.StringIO(chunk))
                    next(reader)
                    rows = [[value or None for value in row] for row in reader]
                    cursor.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' for _ in fields)})", rows)
                    records += len(rows)
            raw.commit()
    finally:
        raw.close()
    return {"seconds": time.perf_counter() - started, "records": records}


def _rest_csv_pages(sf, soql: str, fields: list[str]):
    import csv
    import io

    result = sf.query_all_iter(soql, include_deleted=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(fields)
    for record in result:
        writer.writerow(["" if record.get(name) is None else record.get(name) for name in fields])
    yield buffer.getvalue()


def seed_conversion(env: dict[str, str], emails: list[str], existing: int, immediate: int) -> dict:
    """Conversion's own contacts, entered as a form or import would (P2): `existing` ones (half
    with the email of a Salesforce Contact) not pushed, and `immediate` new ones marked to push."""
    os.environ.update(env)
    from conversion_sync.config import load_sync_settings
    from conversion_sync.resources.database import ConversionDatabase
    from conversion_sync.service.entry import identify_entries
    from conversion_sync.sync.identity import Entry

    engine = ConversionDatabase().engine()
    settings = load_sync_settings()
    if existing:
        half = existing // 2
        entries = [Entry(email=email, traits={"first_name": "Known"}, sync="skip", source="csv")
                   for email in emails[:half]]
        entries += [Entry(email=f"conversion.{i}@only-here.example", traits={"first_name": "Own"}, sync="skip",
                          source="csv") for i in range(existing - half)]
    else:
        entries = [Entry(email=f"push.{i}@w3.example", traits={"first_name": "Push", "last_name": f"W3 {i}",
                                                                "company_name": "W3 Co"},
                         sync="immediate", source="api") for i in range(immediate)]
    started = time.perf_counter()
    outcomes = identify_entries(engine, settings, entries)
    return {"seconds": time.perf_counter() - started, "entered": sum(1 for o in outcomes if o.contact_id)}


def explain_step(env: dict[str, str]) -> dict:
    """EXPLAIN ANALYZE of the hot path's heavy statements on the store W1 left (PostgreSQL)."""
    os.environ.update(env)
    from sqlalchemy import create_engine, text

    engine = create_engine(env["CONVERSION_DATABASE_URL"])
    plans = {}
    with engine.connect() as conn:
        ids = conn.execute(text("SELECT salesforce_id FROM salesforce_records ORDER BY random() LIMIT 900")).scalars().all()
        keys = conn.execute(text("SELECT email_key FROM salesforce_records WHERE email_key IS NOT NULL "
                                 "ORDER BY random() LIMIT 900")).scalars().all()
        statements = {
            "staging: existing rows of a 900-id chunk":
                ("SELECT salesforce_id, system_modstamp, applied_modstamp, applied_fields, fields, created_date "
                 "FROM salesforce_records WHERE salesforce_id = ANY(:ids)", {"ids": list(ids)}),
            "apply: pending batch (keyset page of 5,000)":
                ("SELECT * FROM salesforce_records WHERE sobject IN ('Lead', 'Contact') AND pending "
                 "AND (next_attempt_at IS NULL OR next_attempt_at <= now()) "
                 "ORDER BY system_modstamp, salesforce_id LIMIT 5000", {}),
            "apply: contacts by 900 email keys":
                ("SELECT * FROM contacts WHERE email_key = ANY(:keys)", {"keys": list(keys)}),
            "extract: Lead email keys of 900 new Contacts":
                ("SELECT DISTINCT email_key FROM salesforce_records WHERE sobject = 'Lead' AND email_key = ANY(:keys)",
                 {"keys": list(keys)}),
        }
        for name, (sql, params) in statements.items():
            plans[name] = [line[:160] for line in conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"), params).scalars()]
        plans["table sizes"] = [f"{name}: {rows:,} rows" for name, rows in conn.execute(text(
            "SELECT relname, n_live_tup FROM pg_stat_user_tables ORDER BY n_live_tup DESC LIMIT 6")).all()]
    return {"plans": plans}


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1 = W1 of issue 10 (1.1M records); 0.1 quick")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--changes", type=int, default=10_000, help="W2 changes and W3 contacts")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--profile", default="", help="write a cProfile of W1 to this file (or of --profile-workload)")
    parser.add_argument("--profile-workload", default="w1",
                        help="the workloads --profile profiles, comma-separated (w1,w2,w3,w4; default w1); "
                             "with more than one, each goes to the --profile path with .w2 etc. appended")
    parser.add_argument("--pg-log", default="", help="copy PostgreSQL's log here, statements over --pg-log-ms logged")
    parser.add_argument("--pg-log-ms", type=int, default=20)
    parser.add_argument("--pg-explain-ms", type=int, default=None,
                        help="with --pg-log: also log the plan (EXPLAIN ANALYZE, auto_explain) of statements over this")
    parser.add_argument("--dagster-storage", choices=("sqlite", "postgres"), default="sqlite",
                        help="the Dagster instance's run and event storage: sqlite (the demo's, the checkout's "
                             "dagster.yaml) or postgres (production's deploy/dagster.postgres.yaml, on the "
                             "bench's cluster; needs --db postgres)")
    parser.add_argument("--pg-settings", default="",
                        help="server settings for the bench's cluster, the floor's too, e.g. "
                             "'shared_buffers=2GB max_wal_size=16GB' (default: PostgreSQL's own, with fsync off)")
    parser.add_argument("--only", default="", help="stop after this workload (w1, w2, w3)")
    args = parser.parse_args(argv)
    from bench._postgres import Postgres

    folder = tempfile.mkdtemp(prefix="bench-run-")
    os.makedirs(f"{folder}/dagster_home")
    postgres = (Postgres(args.pg_log_ms if args.pg_log else None, args.pg_log,
                         args.pg_explain_ms if args.pg_log else None, settings=args.pg_settings.split())
                if args.db == "postgres" else None)
    dagster_env: dict[str, str] = {}
    if args.dagster_storage == "postgres":
        if postgres is None:
            parser.error("--dagster-storage postgres needs --db postgres")
        postgres.create_database("dagster")
        shutil.copyfile(ROOT / "deploy" / "dagster.postgres.yaml", f"{folder}/dagster_home/dagster.yaml")
        dagster_env = {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(postgres.port),
                       "DAGSTER_PG_USERNAME": "postgres", "DAGSTER_PG_PASSWORD": "bench", "DAGSTER_PG_DB": "dagster"}
    else:
        shutil.copyfile(ROOT / "dagster.yaml", f"{folder}/dagster_home/dagster.yaml")
    org = None
    results: dict = {"scale": args.scale, "db": args.db, "dagster_storage": args.dagster_storage,
                     "pg_settings": args.pg_settings, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "cores": os.cpu_count(), "workloads": {}}
    try:
        org = Org()
        env = {**org.env, "CONVERSION_SYNC_DATA_DIR": folder, "CONVERSION_SYNC_SETTLE_SECONDS": "0",
               "DAGSTER_HOME": f"{folder}/dagster_home",
               "CONVERSION_DATABASE_URL": postgres.url if postgres else f"sqlite:///{folder}/conversion.db",
               "BENCH_FLOOR_URL": postgres.floor_url if postgres else f"sqlite:///{folder}/floor.db", **dagster_env}
        t0 = time.perf_counter()
        seeded = org("seed_w1", scale=args.scale)
        emails = seeded.pop("contact_emails")
        print(f"org seeded: {seeded} in {time.perf_counter() - t0:.1f} s", flush=True)
        t0 = time.perf_counter()
        entered = _in_child(seed_conversion, env, emails, int(300_000 * args.scale), 0)
        print(f"conversion: {entered['entered']} existing contacts in {time.perf_counter() - t0:.1f} s", flush=True)
        w1_records = seeded["accounts"] + seeded["contacts"] + seeded["leads"]

        def measure(name: str, records: int, floor_api: str | None, since=None, profile=None) -> dict:
            floor = None
            if floor_api:
                org("reset_counters")
                floor = _in_child(floor_step, env, floor_api, since)
            org("reset_counters")
            before = load()
            server_before = postgres.cpu_seconds() if postgres else None
            sync = _in_child(sync_step, env, profile)
            server_cpu = round(postgres.cpu_seconds() - server_before, 1) if postgres else None
            counters = org("counters")
            row = {"records": records, "seconds": round(sync["seconds"], 2),
                   "records_per_second": round(records / sync["seconds"]),
                   "floor_seconds": round(floor["seconds"], 2) if floor else None,
                   "ratio_to_floor": round(sync["seconds"] / floor["seconds"], 1) if floor else None,
                   "peak_rss_mib": sync["peak_rss_mib"], "api_calls": counters.get("total"),
                   "sync_cpu_seconds": round(sync["cpu_seconds"], 1), "database_cpu_seconds": server_cpu,
                   "sync_gc_seconds": sync["gc_seconds"], "gc_collections": dict(sync["gc_collections"]),
                   "write_calls": sum(counters.get(k, 0) for k in WRITE_KINDS),
                   "pulled": sync["pulled"], "load_average": f"{before} -> {load()}",
                   "calls_by_kind": {k: v for k, v in counters.items() if v and k != "total"},
                   "floor_peak_rss_mib": floor["peak_rss_mib"] if floor else None,
                   "step_seconds": sync["step_seconds"], "dagster_events": sync["dagster_events"],
                   "log_lines": sync["log_lines"]}
            results["workloads"][name] = row
            print(f"{name}: {json.dumps(row)}", flush=True)
            return row

        profiled = [w.strip().lower() for w in args.profile_workload.split(",") if w.strip()]

        def profile_of(workload: str) -> str | None:
            if not args.profile or workload not in profiled:
                return None
            return args.profile if len(profiled) == 1 else f"{args.profile}.{workload}"

        measure("W1 first sync", w1_records, "bulk2", profile=profile_of("w1"))
        if postgres is not None:
            results["explain"] = _in_child(explain_step, env)["plans"]
        if args.only != "w1":
            since = org("now").strftime("%Y-%m-%dT%H:%M:%S.000Z")
            done = org("changes_w2", count=args.changes)
            print(f"W2 changes: {done}", flush=True)
            measure("W2 incremental", sum(done.values()), "rest", since=since, profile=profile_of("w2"))
            if args.only != "w2":
                _in_child(seed_conversion, env, [], 0, args.changes)
                measure("W3 push", args.changes, None, profile=profile_of("w3"))
                measure("W4 echo", 0, None, profile=profile_of("w4"))
    finally:
        if org is not None:
            org.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)
    Path(args.out).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print()
    tuned = f" ({args.pg_settings})" if args.pg_settings and args.db == "postgres" else ""
    print(f"scale {args.scale}, {args.db}{tuned}, {os.cpu_count()} cores, {results['started']}")
    print(f"{'workload':16s} {'records':>9s} {'seconds':>8s} {'rec/s':>8s} {'floor s':>8s} {'x floor':>8s} "
          f"{'RSS MiB':>8s} {'API':>5s} {'writes':>6s} {'sync CPU':>8s} {'db CPU':>7s}  load average")
    for name, row in results["workloads"].items():
        fmt = lambda v, spec: format(v, spec) if v is not None else "-"  # noqa: E731
        print(f"{name:16s} {row['records']:>9,d} {row['seconds']:>8.2f} {row['records_per_second']:>8,d} "
              f"{fmt(row['floor_seconds'], '>8.2f'):>8s} {fmt(row['ratio_to_floor'], '>8.1f'):>8s} "
              f"{row['peak_rss_mib']:>8d} {row['api_calls']:>5d} {row['write_calls']:>6d} "
              f"{row['sync_cpu_seconds']:>8.1f} {fmt(row['database_cpu_seconds'], '>7.1f'):>7s}  {row['load_average']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
