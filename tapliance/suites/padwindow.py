"""A replay window over pad ranges: each range of the far end's pad is accepted at most once.

A pad suite's sender uses pad ranges ``[start, end)`` that never overlap and (within one run) grow, so
a genuine datagram's range overlaps no range accepted before. The window keeps the last ``size``
accepted ranges, sorted and disjoint, and a floor: when a range is forgotten, the floor rises to its
end, and every range starting below the floor is refused from then on. Reordering by up to ``size``
datagrams is tolerated; a range that overlaps an accepted one (an exact replay, or known pad bytes
re-used at a shifted offset) is refused.
"""

from __future__ import annotations

import bisect


class RangeWindow:
    def __init__(self, floor: int, size: int = 64) -> None:
        self.floor = floor  # ranges starting below this are refused
        self.size = size
        self._starts: list[int] = []
        self._ends: list[int] = []

    def seen(self, start: int, end: int) -> bool:
        """True if ``[start, end)`` starts below the floor or overlaps a range accepted before."""
        if start < self.floor:
            return True
        i = bisect.bisect_right(self._starts, start)
        return (i > 0 and self._ends[i - 1] > start) or (i < len(self._starts) and self._starts[i] < end)

    def add(self, start: int, end: int) -> None:
        """Accept ``[start, end)`` (``seen`` was False); the oldest range may be forgotten, raising the floor."""
        i = bisect.bisect_right(self._starts, start)
        self._starts.insert(i, start)
        self._ends.insert(i, end)
        if len(self._starts) > self.size:
            del self._starts[0]
            self.floor = max(self.floor, self._ends.pop(0))

    def __len__(self) -> int:
        return len(self._starts)
