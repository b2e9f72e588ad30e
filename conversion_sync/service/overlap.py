"""Two threads for the extract (issue 10), so that waiting on Salesforce or on the database
overlaps the parsing of records:
- `prefetched`: the next page is fetched while the caller works on the one before;
- `InOrder`: chunks handed over are written by one thread, one after the other in the order
  given, while the caller parses the next chunk.
Both hold at most one item waiting, so memory stays bounded, and both raise in the caller what
went wrong in their thread.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_DONE = object()
_POLL_SECONDS = 0.2


def prefetched(pages: Iterator[T], depth: int = 1) -> Iterator[T]:
    """The same pages, the next one fetched (and parsed) in a thread while the caller writes the
    previous one. At most `depth` pages wait; an error of the fetch is raised in the caller, and a
    caller that stops early stops the fetch."""
    waiting: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        waiting.put(("page", page), timeout=_POLL_SECONDS)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            waiting.put(("done", _DONE))
        except BaseException as exc:   # handed to the caller, who raises it
            waiting.put(("error", exc))
        finally:
            close = getattr(pages, "close", None)
            if close is not None and stop.is_set():
                close()

    worker = threading.Thread(target=fetch, name="extract-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = waiting.get()
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=30)


class InOrder(Generic[T]):
    """`write(item)` for each item handed to `put`, in one thread, in the order given: the caller
    goes on (parsing the next chunk) while the database takes the last one. At most one item
    waits besides the one being written. `finish()` (and leaving the `with` block) waits for every
    item to be written and raises what a write raised; once a write has failed, nothing after it
    is written and the next `put` raises it. Leaving the `with` block on an error stops after the item being
    written, without waiting for the rest: what was written stays written (each write is its
    own transaction), what was not is pulled again by the next run."""

    def __init__(self, write: Callable[[T], Any], *, name: str = "extract-stage") -> None:
        self._write = write
        self._waiting: queue.Queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._waiting.get()
            if item is _DONE or self._stop.is_set():
                return
            try:
                self._write(item)
            except BaseException as exc:   # handed to the caller, who raises it
                self._error = exc
                self._stop.set()
                return

    def put(self, item: T) -> None:
        while True:
            self._raise_failure()
            try:
                self._waiting.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Every item written; raises the first failure."""
        while self._thread.is_alive():
            try:
                self._waiting.put(_DONE, timeout=_POLL_SECONDS)
                break
            except queue.Full:
                continue
        self._thread.join()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    def __enter__(self) -> InOrder[T]:
        return self

    def __exit__(self, kind, exc, traceback) -> None:
        if kind is None:
            self.finish()
            return
        # The caller failed: stop after the write under way, and do not hide the caller's error.
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self._waiting.put_nowait(_DONE)
        self._thread.join()
