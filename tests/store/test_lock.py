"""R1: the sync lock admits one holder at a time, across processes, on both databases; a second
sync waits (bounded) and then stops with one sentence naming the holder."""

import multiprocessing
import time

import pytest

from conversion_sync.errors import SyncLockHeld
from conversion_sync.store import database as store_database
from conversion_sync.store.lock import hold_lock


def _hold(url, seconds, ready):
    engine = store_database.open_engine(url)
    with hold_lock(engine, "sync", holder="run abc123 (test)"):
        ready.set()
        time.sleep(seconds)


@pytest.fixture
def holder(database_url):
    engine = store_database.open_engine(database_url)  # schema created before the child starts
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    process = context.Process(target=_hold, args=(database_url, 3.0, ready))
    process.start()
    assert ready.wait(30), "the child process never took the lock"
    yield engine
    process.join(30)


def test_a_second_process_cannot_take_the_lock_while_the_first_holds_it(holder):
    started = time.monotonic()
    with pytest.raises(SyncLockHeld) as error, hold_lock(holder, "sync", holder="second", wait_seconds=0.5):
        pass
    assert 0.4 < time.monotonic() - started < 2.5
    assert "run abc123 (test)" in str(error.value) and "\n" not in str(error.value)


def test_a_waiting_sync_gets_the_lock_once_the_holder_finishes(holder):
    started = time.monotonic()
    with hold_lock(holder, "sync", holder="second", wait_seconds=30):
        waited = time.monotonic() - started
    assert 0.5 < waited < 15


def test_the_lock_is_free_again_after_release(engine):
    with hold_lock(engine, "sync", holder="first"):
        pass
    with hold_lock(engine, "sync", holder="second", wait_seconds=0):
        pass
