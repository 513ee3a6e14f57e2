"""Token buckets for handshake processing: by message count per source network, and by CPU time.

Each initiation costs the responder an X25519 and more; a flood of (even mac1-valid) initiations must
not eat the CPU the data plane needs. Two buckets answer two kinds of flood (native/cookie.py uses them):

- :class:`TokenBucket`: messages per second, one per source network (/24, /64): one source cannot take
  more than its rate, whatever the others do;
- :class:`CpuBudget`: CPU seconds per second for all handshake processing together, charged with what
  each message measurably cost (the runtime measures, the core only adds): a flood spread over many
  source addresses, each under its own rate, still cannot take more than its share of a core.
"""

from __future__ import annotations


class TokenBucket:
    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class CpuBudget:
    """A bucket of CPU seconds: holds up to ``share * window``, starts full, refills at ``share`` CPU
    seconds per second (``share`` of one core) and is charged after the fact with measured costs, so it
    may go negative (a debt, repaid by the refill; never more than one window's worth). It is
    ``exhausted`` while it holds nothing."""

    __slots__ = ("burst", "level", "rate", "spent", "stamp")

    def __init__(self, share: float, window: float, now: float) -> None:
        self.rate = share
        self.burst = share * window
        self.level = self.burst
        self.stamp = now
        self.spent = 0.0  # every CPU second charged so far (status)

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.level = min(self.burst, self.level + (now - self.stamp) * self.rate)
            self.stamp = now

    def charge(self, seconds: float, now: float) -> None:
        self._refill(now)
        seconds = max(0.0, seconds)
        self.spent += seconds
        self.level = max(-self.burst, self.level - seconds)

    def exhausted(self, now: float) -> bool:
        self._refill(now)
        return self.level <= 0.0
