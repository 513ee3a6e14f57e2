"""The budget of online passphrase guesses (shared-secret mode).

A pairing run is the only way to test a passphrase (pake.py), and each run answered or started tests
exactly one. So the runs are what is limited: at most ``per_minute`` a minute in all (a bucket of that
many, refilled at that rate), and from one source prefix (an IPv4 /24, an IPv6 /64: what one attacker
holds cheaply) at most PER_SOURCE_BURST at once and a quarter of the rate after that. Our own runs as
initiator take from the same total (an on-path attacker answering them gets a guess each). The table of
prefixes is bounded; the least recently seen one is forgotten first.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict

from tapliance.proto.events import Addr
from tapliance.proto.ratelimit import TokenBucket

PER_SOURCE_BURST = 3
MAX_SOURCES = 4096


def prefix(addr: Addr) -> str:
    """The source prefix a guess is charged to: the /24 of an IPv4 address, the /64 of an IPv6 one."""
    try:
        ip = ipaddress.ip_address(addr[0])
    except ValueError:
        return addr[0]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    bits = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


class GuessLimiter:
    def __init__(self, per_minute: int, now: float) -> None:
        self.rate = per_minute / 60.0
        self.total = TokenBucket(self.rate, per_minute, now)
        self.sources: OrderedDict[str, TokenBucket] = OrderedDict()
        self.refused = 0

    def take(self, source: Addr | None, now: float) -> bool:
        """True if one more guess may be made now (charged to ``source``'s prefix if given)."""
        bucket = None
        if source is not None:
            key = prefix(source)
            bucket = self.sources.get(key)
            if bucket is None:
                bucket = self.sources[key] = TokenBucket(self.rate / 4, PER_SOURCE_BURST, now)
                if len(self.sources) > MAX_SOURCES:
                    self.sources.popitem(last=False)
            self.sources.move_to_end(key)
            if not bucket.take(now):
                self.refused += 1
                return False
        if self.total.take(now):
            return True
        if bucket is not None:
            bucket.tokens += 1.0  # refused in all: not charged to the source
        self.refused += 1
        return False
