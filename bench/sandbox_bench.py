"""Benchmark the sandbox org at scale, through simple-salesforce over HTTPS.

    .venv/bin/python bench/sandbox_bench.py [--records 1000000] [--repeat 5] [--json]

Seeds N Contacts (SystemModstamps spread over 30 days) into an in-process sandbox, then times,
as a sync client would see them: the first 2,000-row page of a SystemModstamp-window query
ordered by (SystemModstamp, Id), a middle page via nextRecordsUrl, COUNT() on a one-day window,
a 200-email `IN` lookup, and a 200-record sObject Collections update. Medians of --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta

from sandbox_org.testing import running_sandbox
from simple_salesforce import format_soql

FIELDS = "Id, Email, FirstName, LastName, Title, AccountId, SystemModstamp, LastModifiedDate, IsDeleted"
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=30)


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def seed(org, n: int) -> float:
    t0 = time.perf_counter()
    accounts = org.seed("Account", [{"Name": f"Account {i}"} for i in range(1000)])
    step = SPAN / max(1, n)
    chunk = 100_000
    for base in range(0, n, chunk):
        org.seed("Contact", [{"LastName": f"Last{i}", "FirstName": "First", "Email": f"person{i}@example.com",
                              "Title": "Engineer", "AccountId": accounts[i % 1000],
                              "CreatedDate": START + step * i, "SystemModstamp": START + step * i}
                             for i in range(base, min(n, base + chunk))])
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures: dict[str, float | int] = {"records": args.records}
    with running_sandbox() as sandbox:
        figures["seed_s"] = round(seed(sandbox.org, args.records), 2)
        figures["rss_mib"] = round(rss_mib())
        sf = sandbox.salesforce()
        window = format_soql(f"SELECT {FIELDS} FROM Contact WHERE SystemModstamp > {{}} AND SystemModstamp <= {{}} "
                             "ORDER BY SystemModstamp, Id", START - timedelta(seconds=1), START + SPAN)
        figures["first_page_ms"], first = timed(lambda: sf.query(window), args.repeat)
        assert first["totalSize"] == args.records and len(first["records"]) == min(2000, args.records)
        locator = first["nextRecordsUrl"].rsplit("-", 1)[0] if not first["done"] else None
        if locator:
            middle = f"{locator}-{(args.records // 2) // 2000 * 2000}"
            figures["middle_page_ms"], page = timed(lambda: sf.query_more(middle, identifier_is_url=True),
                                                    args.repeat)
            assert len(page["records"]) == 2000
            url = first["nextRecordsUrl"]
            t0 = time.perf_counter()
            for _ in range(10):
                page = sf.query_more(url, identifier_is_url=True)
                url = page.get("nextRecordsUrl")
                if not url:
                    break
            figures["next_10_pages_avg_ms"] = round((time.perf_counter() - t0) * 100, 1)
        day = format_soql("SELECT COUNT() FROM Contact WHERE SystemModstamp > {} AND SystemModstamp <= {}",
                          START + timedelta(days=10), START + timedelta(days=11))
        figures["count_window_ms"], counted = timed(lambda: sf.query(day), args.repeat)
        figures["count_window_rows"] = counted["totalSize"]
        emails = [f"PERSON{i}@example.com" for i in range(0, args.records, max(1, args.records // 200))][:200]
        lookup = format_soql("SELECT Id, Email FROM Contact WHERE Email IN {}", emails)
        figures["email_in_200_ms"], found = timed(lambda: sf.query(lookup), args.repeat)
        assert found["totalSize"] == len(emails)
        ids = [r["Id"] for r in first["records"][:200]]
        payload = {"allOrNone": False, "records": [{"attributes": {"type": "Contact"}, "id": rid,
                                                    "Title": "Bench"} for rid in ids]}
        figures["collections_update_200_ms"], results = timed(
            lambda: sf.restful("composite/sobjects", method="PATCH", json=payload), args.repeat)
        assert all(r["success"] for r in results)
        figures["rss_after_mib"] = round(rss_mib())
    figures = {k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:28s} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
