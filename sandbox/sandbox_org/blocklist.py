"""A sorted list stored in blocks, with copy-on-write snapshots.

The SystemModstamp index holds up to millions of `(systemmodstamp_ms, id, row)` entries. A query
cursor must keep the result it saw at query time, but copying a million-entry slice costs tens of
milliseconds. Here the list is a sequence of sorted blocks of ~1,000 entries; a snapshot is just
the tuple of block references, and a writer copies a block (a few microseconds) before changing it
when a snapshot may share it. Positional access uses cumulative block sizes.
"""

from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from itertools import accumulate, chain, islice
from typing import Any

logger = logging.getLogger(__name__)

LOAD = 1000


def _starts(blocks: Iterable[list]) -> list[int]:
    """Start position of every block, plus the total at the end."""
    return [0, *accumulate(len(b) for b in blocks)]


class BlockList:
    """Sorted entries in blocks; `snapshot()` freezes the current content cheaply."""

    def __init__(self, items: Iterable[Any] = ()) -> None:
        self.blocks: list[list] = []
        self.maxes: list[Any] = []
        self.size = 0
        self._owned: set[int] = set()
        self._starts_cache: list[int] | None = None
        items = sorted(items)
        if items:
            self._build(items)

    def _build(self, items: list) -> None:
        self.blocks = [items[i:i + LOAD] for i in range(0, len(items), LOAD)]
        self.maxes = [b[-1] for b in self.blocks]
        self._owned = {id(b) for b in self.blocks}
        self.size = len(items)
        self._starts_cache = None

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[Any]:
        return chain.from_iterable(self.blocks)

    def _starts(self) -> list[int]:
        if self._starts_cache is None:
            self._starts_cache = _starts(self.blocks)
        return self._starts_cache

    def _writable(self, k: int) -> list:
        block = self.blocks[k]
        if id(block) not in self._owned:
            block = block.copy()
            self.blocks[k] = block
            self._owned.add(id(block))
        return block

    def add(self, entry: Any) -> None:
        """Insert keeping the order."""
        self._starts_cache = None
        self.size += 1
        if not self.blocks:
            block = [entry]
            self.blocks.append(block)
            self.maxes.append(entry)
            self._owned.add(id(block))
            return
        k = min(bisect_left(self.maxes, entry), len(self.blocks) - 1)
        block = self._writable(k)
        insort(block, entry)
        self.maxes[k] = block[-1]
        if len(block) > 2 * LOAD:
            tail = block[LOAD:]
            del block[LOAD:]
            self.blocks.insert(k + 1, tail)
            self.maxes[k] = block[-1]
            self.maxes.insert(k + 1, tail[-1])
            self._owned.add(id(tail))

    def remove(self, entry: Any) -> None:
        """Remove an entry that is present (compared by identity after bisecting)."""
        k = bisect_left(self.maxes, entry)
        block = self._writable(k)
        i = bisect_left(block, entry)
        if i >= len(block) or block[i] is not entry:
            raise ValueError("entry not in the index")
        del block[i]
        self.size -= 1
        self._starts_cache = None
        if block:
            self.maxes[k] = block[-1]
        else:
            del self.blocks[k]
            del self.maxes[k]

    def update(self, entries: list) -> None:
        """Insert many entries (sorted or not) at once."""
        if not entries:
            return
        entries = sorted(entries)
        if self.blocks and entries[0] < self.maxes[-1]:
            self._build(sorted(chain(self, entries)))
            return
        last = self.blocks[-1] if self.blocks else None
        if last is not None and len(last) < LOAD:
            room = LOAD - len(last)
            block = self._writable(len(self.blocks) - 1)
            block.extend(entries[:room])
            self.maxes[-1] = block[-1]
            entries = entries[room:]
        for i in range(0, len(entries), LOAD):
            block = entries[i:i + LOAD]
            self.blocks.append(block)
            self.maxes.append(block[-1])
            self._owned.add(id(block))
        self.size = sum(len(b) for b in self.blocks)
        self._starts_cache = None

    def bisect_left(self, key: Any) -> int:
        k = bisect_left(self.maxes, key)
        if k == len(self.blocks):
            return self.size
        return self._starts()[k] + bisect_left(self.blocks[k], key)

    def bisect_right(self, key: Any) -> int:
        k = bisect_right(self.maxes, key)
        if k == len(self.blocks):
            return self.size
        return self._starts()[k] + bisect_right(self.blocks[k], key)

    def window(self, start: int, stop: int, reverse: bool = False) -> Window:
        """A frozen view of positions [start, stop): later writes don't change it."""
        self._owned.clear()
        return Window(tuple(self.blocks), list(self._starts()), start, stop, reverse)


class Window:
    """Entries [start, stop) of a frozen BlockList, optionally reversed."""

    def __init__(self, blocks: tuple, starts: list[int], start: int, stop: int, reverse: bool = False) -> None:
        self.blocks = blocks
        self.starts = starts
        self.start = start
        self.stop = max(start, stop)
        self.reverse = reverse

    def __len__(self) -> int:
        return self.stop - self.start

    def _entries(self, lo: int, hi: int) -> list:
        """Absolute positions [lo, hi) in ascending order."""
        out: list = []
        if lo >= hi:
            return out
        k = bisect_right(self.starts, lo) - 1
        offset = lo - self.starts[k]
        while len(out) < hi - lo and k < len(self.blocks):
            block = self.blocks[k]
            out.extend(block[offset: offset + (hi - lo - len(out))])
            offset = 0
            k += 1
        return out

    def entries(self, a: int, b: int) -> list:
        """Entries at window positions [a, b)."""
        a, b = max(0, a), min(len(self), b)
        if a >= b:
            return []
        if not self.reverse:
            return self._entries(self.start + a, self.start + b)
        chunk = self._entries(self.stop - b, self.stop - a)
        chunk.reverse()
        return chunk

    def slice(self, a: int, b: int | None = None) -> Window:
        """The sub-window at window positions [a, b) (OFFSET/LIMIT)."""
        b = len(self) if b is None else min(b, len(self))
        a = min(max(0, a), b)
        if self.reverse:
            return Window(self.blocks, self.starts, self.stop - b, self.stop - a, True)
        return Window(self.blocks, self.starts, self.start + a, self.start + b)

    def __iter__(self) -> Iterator[Any]:
        k = bisect_right(self.starts, self.start) - 1 if self.stop > self.start else len(self.blocks)
        offset = self.start - self.starts[k] if k < len(self.blocks) else 0
        flat = chain.from_iterable(chain([self.blocks[k][offset:]], self.blocks[k + 1:])) \
            if k < len(self.blocks) else iter(())
        items = islice(flat, len(self))
        return reversed(list(items)) if self.reverse else items
