"""Progress of a long step stays visible to the engineer on call without a flood of Dagster events
(issue 10: each line is an event the instance stores): the first line, then at most one every few
seconds, and always the last one; whatever runs between two batches runs after every batch."""

from conversion_sync.assets.runtime import BetweenBatches


def test_progress_logs_the_first_line_one_per_interval_and_the_last():
    clock = [0.0]
    lines: list[str] = []
    between: list[int] = []
    progress = BetweenBatches(lines.append, lambda: between.append(1), seconds=5, clock=lambda: clock[0])
    for n in range(1, 21):                 # 20 batches, one every second
        progress(f"{n * 2000} records pulled")
        clock[0] += 1
    progress.close()
    assert lines == ["2000 records pulled", "12000 records pulled", "22000 records pulled",
                     "32000 records pulled", "40000 records pulled"]
    assert len(between) == 20


def test_a_step_whose_last_line_was_logged_adds_nothing_at_its_end():
    lines: list[str] = []
    progress = BetweenBatches(lines.append, seconds=5, clock=lambda: 0.0)
    progress("10 records applied")
    progress.close()
    assert lines == ["10 records applied"]
