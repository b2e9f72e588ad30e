"""R1: the sync is held per run, not per step. A run's later steps re-enter its hold, another
process waits (and is told for which run) or gives up with one sentence, the hold outlives a step
until the run has ended, and a killed holder frees the sync at once — on SQLite and PostgreSQL."""

import datetime as dt
import multiprocessing
import os
import signal
import time

import dagster as dg
import pytest
from sqlalchemy import select

from conversion_sync.errors import SyncLockHeld
from conversion_sync.service.reclaim import why_dead
from conversion_sync.store import database as store_database
from conversion_sync.store import holders, run_hold
from conversion_sync.store.schema import sync_run_holders

UTC = dt.UTC


def _hold_for_run(url, run_id, seconds, ready):
    engine = store_database.open_engine(url)
    with run_hold.run_hold(engine, run_id, holder="test holder", wait_seconds=5, stale_seconds=3):
        ready.set()
        time.sleep(seconds)


def _try_take(url, run_id, wait_seconds, results):
    engine = store_database.open_engine(url)
    messages = []
    try:
        with run_hold.run_hold(engine, run_id, holder="second", wait_seconds=wait_seconds, stale_seconds=3,
                               on_wait=messages.append):
            results.put(("took", messages))
    except SyncLockHeld as error:
        results.put(("refused", [str(error), *messages]))


@pytest.fixture
def spawn():
    context = multiprocessing.get_context("spawn")
    started = []

    def start(target, *args):
        process = context.Process(target=target, args=args)
        process.start()
        started.append(process)
        return process

    start.context = context
    yield start
    for process in started:
        if process.is_alive():
            process.kill()
        process.join(30)


def _wait_for_state(engine, run_id, state, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        with holders.holder_engine(engine).connect() as conn:
            found = conn.execute(select(sync_run_holders.c.state).where(sync_run_holders.c.run_id == run_id)).scalar()
        if found == state:
            return
        assert time.monotonic() < deadline, f"run {run_id} never reached state {state} (is {found})"
        time.sleep(0.1)


def test_later_steps_of_a_run_re_enter_its_hold_and_another_process_is_refused_naming_it(engine, database_url,
                                                                                          spawn):
    first = run_hold.take(engine, "run-a-0000", holder="step 1", wait_seconds=1, still_running=lambda: True)
    again = run_hold.take(engine, "run-a-0000", holder="step 2", wait_seconds=0, still_running=lambda: True)
    assert again is first                                  # no wait between the run's own steps
    results = spawn.context.Queue()
    spawn(_try_take, database_url, "run-b-0000", 0.5, results)
    outcome, texts = results.get(timeout=60)
    assert outcome == "refused"
    refusal, waiting = texts
    assert f"run run-a-00 (pid {os.getpid()} on " in refusal and "\n" not in refusal
    assert waiting.startswith("Waiting for the sync run run-a-00 (pid ")
    run_hold.release_all()


def test_the_hold_outlives_its_step_until_the_run_has_ended(engine, database_url, spawn):
    running = {"yes": True}
    run_hold.take(engine, "run-a-1111", holder="step", wait_seconds=1, stale_seconds=1.2,
                  still_running=lambda: running["yes"])
    results = spawn.context.Queue()
    spawn(_try_take, database_url, "run-b-1111", 60, results)
    _wait_for_state(engine, "run-b-1111", "waiting")
    time.sleep(1.5)                                         # several heartbeats of the holder
    assert results.empty(), "another run got the sync between two steps of the first"
    running["yes"] = False                                  # the run has ended: the heartbeat lets go
    outcome, messages = results.get(timeout=60)
    assert outcome == "took" and messages and "run-a-11" in messages[0]
    with holders.holder_engine(engine).connect() as conn:
        state = conn.execute(select(sync_run_holders.c.state).where(sync_run_holders.c.run_id == "run-a-1111")).scalar()
    assert state == "released"


def test_a_run_that_ended_hands_the_sync_to_the_next_run_of_the_same_process_at_once(engine):
    run_hold.take(engine, "run-a-2222", holder="a", wait_seconds=1, still_running=lambda: False)
    started = time.monotonic()
    hold = run_hold.take(engine, "run-b-2222", holder="b", wait_seconds=5, still_running=lambda: True)
    assert time.monotonic() - started < 1 and run_hold.held_run(engine) == "run-b-2222"
    run_hold.release_all()
    assert hold.released


def test_a_killed_holder_frees_the_sync_at_once_and_its_row_shows_it_is_gone(engine, database_url, spawn):
    ready = spawn.context.Event()
    child = spawn(_hold_for_run, database_url, "run-k-3333", 600, ready)
    assert ready.wait(60)
    os.kill(child.pid, signal.SIGKILL)
    child.join(30)
    started = time.monotonic()
    with run_hold.run_hold(engine, "run-n-3333", holder="next", wait_seconds=10):
        assert time.monotonic() - started < 5
    with holders.holder_engine(engine).connect() as conn:
        row = holders.holders_of(conn, ["run-k-3333"])["run-k-3333"]
    assert row.state == "holding" and row.pid == child.pid
    run = dg.DagsterRun(job_name="sync_job", run_id="run-k-3333", status=dg.DagsterRunStatus.STARTED)
    reason = why_dead(row, run, time.time(), now=dt.datetime.now(UTC), stale_seconds=120)
    assert reason == f"Marked failed by conversion-sync: the process running it (pid {child.pid} on {row.host}) is gone."


def test_a_holder_on_another_host_is_dead_only_once_its_heartbeat_is_stale(engine):
    now = dt.datetime.now(UTC)
    with holders.holder_engine(engine).begin() as conn:
        holders.record_waiting(conn, "run-h-4444", "sync", "elsewhere", now - dt.timedelta(seconds=200))
        holders.record_acquired(conn, "run-h-4444", now - dt.timedelta(seconds=200))
    with holders.holder_engine(engine).connect() as conn:
        row = holders.holders_of(conn, ["run-h-4444"])["run-h-4444"]
    run = dg.DagsterRun(job_name="sync_job", run_id="run-h-4444", status=dg.DagsterRunStatus.STARTED)
    assert why_dead(row, run, None, now=now - dt.timedelta(seconds=150), stale_seconds=120, host="other-host") is None
    assert "has not given a sign of life for 200 s" in why_dead(row, run, None, now=now, stale_seconds=120,
                                                                host="other-host")
