"""Token buckets for handshake processing under load.

Each initiation costs the responder one X25519; a flood of (even mac1-valid) initiations must not eat
the CPU the data plane needs. A global bucket caps the handshake rate; past it the responder answers
with a cookie reply (no DH) and only processes initiations whose mac2 proves the source address.
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
