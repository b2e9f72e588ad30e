"""The extract's staging thread (service/overlap.py `InOrder`, issue 10): chunks are written in
the order given, one at a time, with at most one more waiting; a failed write stops everything
after it and is raised in the caller; a caller that fails stops after the write under way."""

from __future__ import annotations

import threading
import time

import pytest

from conversion_sync.errors import ApiBudgetExhausted
from conversion_sync.service.overlap import InOrder


def test_chunks_are_written_in_the_order_given_one_at_a_time():
    written: list[int] = []
    busy = threading.Lock()

    def write(item: int) -> None:
        assert busy.acquire(blocking=False), "two writes at once"
        try:
            time.sleep(0.001 * (item % 3))
            written.append(item)
        finally:
            busy.release()

    with InOrder(write) as stager:
        for item in range(50):
            stager.put(item)
    assert written == list(range(50))        # leaving the block waited for the last one


def test_the_caller_is_held_back_while_one_chunk_waits():
    release = threading.Event()
    started = threading.Event()

    def write(item: int) -> None:
        started.set()
        release.wait(5)

    stager = InOrder(write)
    stager.put(1)                 # being written
    started.wait(5)
    stager.put(2)                 # waiting
    third = threading.Thread(target=stager.put, args=(3,))
    third.start()
    third.join(0.5)
    assert third.is_alive()       # memory stays bounded: the third chunk is not taken yet
    release.set()
    third.join(5)
    stager.finish()


def test_a_failed_write_is_raised_in_the_caller_and_nothing_after_it_is_written():
    written: list[int] = []

    def write(item: int) -> None:
        if item == 3:
            raise ApiBudgetExhausted("the API budget is spent")
        written.append(item)

    with pytest.raises(ApiBudgetExhausted), InOrder(write) as stager:
        for item in range(20):
            stager.put(item)
            time.sleep(0.01)
    assert written == [0, 1, 2]


def test_a_caller_that_fails_stops_after_the_write_under_way_and_keeps_its_own_error():
    written: list[int] = []
    writing = threading.Event()

    def write(item: int) -> None:
        writing.set()
        time.sleep(0.2)
        written.append(item)

    with pytest.raises(KeyError), InOrder(write) as stager:
        stager.put(1)
        writing.wait(5)
        stager.put(2)             # waits behind 1, never written
        raise KeyError("the page fetch failed")
    assert written == [1]
