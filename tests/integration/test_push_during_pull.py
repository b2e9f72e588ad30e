"""H3 with a pull running: a contact entered to be sent to Salesforce immediately goes out between
two batches of a long pull, in the pull's own run (one writer at a time, R1), instead of waiting for
the end of the pull; nothing the pull brings is lost, and nothing is created or applied twice."""

from __future__ import annotations

import threading
import time

import dagster as dg
import pytest
from simple_salesforce import format_soql
from sqlalchemy import func, select

from conversion_sync.store.schema import contacts, salesforce_records, sync_events
from conversion_sync.sync.ids import to_18

LEADS = 8_000          # four REST pages of 2,000
PAGE_DELAY = 1.5       # seconds the org takes for each further page: the pull lasts several seconds


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def _mirrored_leads(harness) -> int:
    with harness.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(salesforce_records)
                            .where(salesforce_records.c.sobject == "Lead")).scalar_one()


def _leads_with(org, email: str) -> list[dict]:
    return org.query(format_soql("SELECT Id FROM Lead WHERE Email = {}", email))


def test_h3_an_immediate_push_goes_out_while_a_long_pull_runs(harness, org, instance):
    seeded = org.seed("Lead", [{"LastName": f"Pulled {i}", "Company": "Big Co", "Email": f"pulled.{i}@big.example"}
                               for i in range(LEADS)])
    org.inject_fault("timeout", path=r"/query(All)?/0r8", method="GET", times=None, seconds=PAGE_DELAY)
    outcome: dict = {}
    run = threading.Thread(target=lambda: outcome.setdefault("result", harness.cycle(instance)))
    run.start()
    deadline = time.monotonic() + 60
    while _mirrored_leads(harness) < 2_000:          # the first page is in; three slow ones to come
        assert run.is_alive() and time.monotonic() < deadline, "the pull never staged its first page"
        time.sleep(0.05)
    entered = harness.identify("now@waiting.example", traits={"last_name": "Now", "company_name": "Waiting"},
                               sync="immediate")
    entered_at = time.monotonic()
    while not _leads_with(org, "now@waiting.example"):
        assert time.monotonic() < deadline, "the contact never reached Salesforce"
        time.sleep(0.05)
    latency = time.monotonic() - entered_at
    # Salesforce has the contact while the pull is still bringing the org's Leads: it did not
    # wait for the end of the pull (before, it went out in the push step after every extract).
    assert run.is_alive()
    assert _mirrored_leads(harness) < LEADS
    assert latency < 10
    run.join(120)
    result = outcome["result"]
    assert result.success, result.error
    assert result.steps["salesforce_leads"]["pushed_meanwhile_created_in_salesforce"] == 1
    assert result.steps["salesforce_push"]["created_in_salesforce"] == 0

    # Created once, linked to its contact, out of the queue.
    (lead,) = _leads_with(org, "now@waiting.example")
    row = harness.contact(entered.contact_id)
    assert row.salesforce_id == to_18(lead["Id"]) and row.push_state == "pushed"
    # Nothing the pull brought is lost: every Lead has its one contact, nothing is left to apply.
    with harness.engine.connect() as conn:
        linked = conn.execute(select(func.count()).select_from(contacts)
                              .where(contacts.c.salesforce_id.in_([to_18(i) for i in seeded]))).scalar_one()
        pending = conn.execute(select(func.count()).select_from(salesforce_records)
                               .where(salesforce_records.c.pending.is_(True))).scalar_one()
    assert linked == LEADS and pending == 0

    # The next cycle pulls the Lead the push created and changes nothing: no second create, no
    # second contact, no change applied twice to the pushed contact.
    org.clear_faults()
    again = harness.cycle(instance)
    assert again.success, again.error
    assert again.steps["salesforce_push"]["created_in_salesforce"] == 0
    assert len(_leads_with(org, "now@waiting.example")) == 1
    with harness.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(contacts)).scalar_one()
        kinds = [kind for kind, in conn.execute(select(sync_events.c.kind)
                                                .where(sync_events.c.contact_id == entered.contact_id))]
    assert total == LEADS + 1
    assert kinds.count("created_in_salesforce") == 1
    assert harness.contact(entered.contact_id).salesforce_id == to_18(lead["Id"])
