"""Sliding-window anti-replay, RFC 6479 ("IPsec Anti-Replay Algorithm without Bit Shifting").

The window is a ring of ``BLOCKS`` 64-bit words. Advancing the window clears whole words instead of
shifting a long bitmap, so the cost of an update is O(words advanced) and bounded by BLOCKS.

Usage contract (as in WireGuard): ``check(counter)`` before decrypting (cheap, no state change), and
``commit(counter)`` only after the AEAD authenticated the packet, so a forged packet can never move
the window. ``commit`` re-checks and returns False for a duplicate that raced in between.
"""

from __future__ import annotations

BLOCK_BITS = 64
BLOCKS = 128  # ring size; must be a power of two
RING_MASK = BLOCKS - 1
WINDOW = (BLOCKS - 1) * BLOCK_BITS  # counters this far behind the highest seen are still accepted


class ReplayWindow:
    __slots__ = ("_ring", "last")

    def __init__(self) -> None:
        self._ring = [0] * BLOCKS
        self.last = -1  # highest counter committed; -1: nothing yet

    def check(self, counter: int) -> bool:
        """True if ``counter`` is neither too old nor already seen."""
        if counter > self.last:
            return True
        if self.last - counter >= WINDOW:
            return False
        block = (counter >> 6) & RING_MASK
        return not (self._ring[block] >> (counter & 63)) & 1

    def commit(self, counter: int) -> bool:
        """Mark ``counter`` seen; False if it was not acceptable (duplicate / too old)."""
        if counter <= self.last and not self.check(counter):  # in order (the usual case) needs no check call
            return False
        if counter > self.last:
            cur = self.last >> 6 if self.last >= 0 else -1
            new = counter >> 6
            # Clear the words the window slides over (at most the whole ring).
            for i in range(1, min(new - cur, BLOCKS) + 1):
                self._ring[(cur + i) & RING_MASK] = 0
            self.last = counter
        self._ring[(counter >> 6) & RING_MASK] |= 1 << (counter & 63)
        return True

    def check_run(self, first: int, count: int) -> bool:
        """check() for every counter in first .. first+count-1 (a fragment run)."""
        if first > self.last:
            return True
        return all(self.check(c) for c in range(first, first + count))

    def commit_run(self, first: int, count: int) -> None:
        """commit() a run already accepted by check_run: bits set a word at a time."""
        self.commit(first + count - 1)  # slides the window once, to the run's end
        ring = self._ring
        c, end = first, first + count - 1  # the last one is already set
        while c < end:
            bit = c & 63
            n = min(64 - bit, end - c)
            ring[(c >> 6) & RING_MASK] |= ((1 << n) - 1) << bit
            c += n
