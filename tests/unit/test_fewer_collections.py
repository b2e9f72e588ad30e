"""Issue 10: a sync step runs with fewer garbage collections, and the process gets its collector
back as it was when the step ends, however it ends (tests and `dagster dev` run many steps in one
process)."""

import gc

import pytest

from conversion_sync.assets.runtime import GC_YOUNG_THRESHOLD, fewer_collections, recorded_step


def test_inside_a_step_what_lived_before_is_frozen_and_young_objects_are_collected_less_often():
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    alive = [object() for _ in range(1000)]
    with fewer_collections():
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        assert gc.get_freeze_count() >= frozen + len(alive)
        with fewer_collections():            # a second step at once (another thread) changes nothing
            assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD     # still inside the first one
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_step_that_fails_gives_the_collector_back(tmp_path):
    from conversion_sync.store.database import dispose_engines, open_engine

    before = gc.get_threshold()
    engine = open_engine(f"sqlite:///{tmp_path / 'conversion.db'}")
    try:
        with pytest.raises(RuntimeError), recorded_step(engine, "run-1", "contacts", None):
            assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
            raise RuntimeError("the database went away")
    finally:
        dispose_engines()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_garbage_made_inside_a_step_is_still_collected():
    class Node:
        pass

    with fewer_collections():
        ring = Node()
        ring.next = ring                    # a cycle: only the collector can free it
        del ring
        assert gc.collect() >= 1
