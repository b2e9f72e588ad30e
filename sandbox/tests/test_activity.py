"""The activity simulator keeps a demo org changing."""

from __future__ import annotations

import time

from sandbox_org.activity import ActivitySimulator
from sandbox_org.generator import generate_demo_org


def test_steps_change_the_org(org):
    generate_demo_org(org, accounts=10, contacts=40, leads=40, seed=3)
    watermark = org.now()
    simulator = ActivitySimulator(org, seed=11, interval_seconds=60)
    done = [action for _ in range(60) for action in simulator.step()]
    kinds = {action.split()[0] for action in done}
    assert {"new", "edit", "convert", "delete"} <= kinds
    changed = org.query(f"SELECT Id FROM Contact WHERE SystemModstamp > {watermark.isoformat()}", include_deleted=True)
    assert changed


def test_thread_runs_until_stopped(org):
    simulator = ActivitySimulator(org, seed=1, interval_seconds=0.02).start()
    deadline = time.time() + 5
    while simulator.actions_done < 3 and time.time() < deadline:
        time.sleep(0.02)
    simulator.stop()
    assert simulator.actions_done >= 3
    done = simulator.actions_done
    time.sleep(0.1)
    assert simulator.actions_done == done
