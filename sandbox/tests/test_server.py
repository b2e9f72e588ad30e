"""The HTTPS server itself: cheap start, keep-alive, concurrent clients, unknown routes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from sandbox_org.testing import running_sandbox


def test_starting_a_sandbox_is_cheap():
    timings = []
    for _ in range(3):
        t0 = time.perf_counter()
        with running_sandbox() as sandbox:
            timings.append(time.perf_counter() - t0)
            assert sandbox.salesforce().query("SELECT COUNT() FROM Lead")["totalSize"] == 0
    assert min(timings) < 0.3


def test_one_session_reuses_one_tls_connection(sandbox, sf):
    before = sandbox.connections_accepted
    for _ in range(20):
        sf.query("SELECT Id FROM Lead")
    assert sandbox.connections_accepted - before <= 1


def test_concurrent_clients(sandbox, org):
    def work(n: int) -> int:
        sf = sandbox.salesforce()
        ids = [sf.Contact.create({"LastName": f"T{n}-{i}"})["id"] for i in range(10)]
        for rid in ids[:5]:
            sf.Contact.update(rid, {"Title": "x"})
        return len(list(sf.query_all_iter("SELECT Id FROM Contact")))

    with ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(work, range(8)))
    assert org.count("Contact") == 80 and all(10 <= s <= 80 for s in seen)
    assert org.counters()["sobject_create"] == 80 and org.counters()["sobject_update"] == 40


def test_unknown_paths_answer_like_salesforce(sandbox):
    session = sandbox.session()
    headers = {"Authorization": f"Bearer {sandbox.access_token}"}
    missing = session.get(f"{sandbox.instance_url}/services/data/v59.0/sobjects/Opportunity/describe",
                          headers=headers)
    assert missing.status_code == 404
    assert missing.json() == [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
    assert session.get(f"{sandbox.instance_url}/nowhere").status_code == 404
    assert missing.headers["Sforce-Limit-Info"].startswith("api-usage=")
