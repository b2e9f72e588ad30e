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


class _Push:
    """A `between` that becomes due at a given moment, like assets.push.WaitingPush."""

    def __init__(self, clock):
        self.clock, self.due_at, self.runs = clock, 3.0, 0

    def due(self) -> bool:
        return self.clock[0] >= self.due_at

    def __call__(self) -> None:
        if self.due():
            self.runs += 1


def test_a_step_asks_whether_the_next_call_writes_and_the_answer_holds_for_that_call():
    """An apply that writes part of a batch in a thread finishes it only before a call that may
    push (service/apply.py). The answer is kept: a push that becomes due between the question
    and the call waits for the next batch, so it never runs beside a write still under way."""
    clock = [0.0]
    push = _Push(clock)
    progress = BetweenBatches(lambda line: None, push, seconds=5, clock=lambda: clock[0])
    assert progress.will_write() is False
    clock[0] = 3.5                        # due now, but the step was told no write comes
    progress("2 records applied")
    assert push.runs == 0
    assert progress.will_write() is True
    progress("4 records applied")
    assert push.runs == 1
    progress("6 records applied")        # a caller that does not ask: the push runs when due
    assert push.runs == 2
    assert BetweenBatches(lambda line: None).will_write() is False
    assert BetweenBatches(lambda line: None, lambda: None).will_write() is True   # cannot tell: assume it writes
