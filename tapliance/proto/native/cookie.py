"""The responder's defence against handshake floods: per-source rates, a CPU budget and cookies
(WireGuard whitepaper 5.4.7; wireguard-go's ``ratelimiter``).

Each handshake message that passes mac1 costs an X25519 or more; a flood of them must not eat the CPU
the data plane needs. A mac1-valid message passes two checks before any DH:

1. **Its source network's rate.** One token bucket per /24 (IPv4) or /64 (IPv6): ``handshake_rate``
   messages per second, as many at once. A message from a network over its rate is dropped unanswered
   (``handshake_rate_limited``): not even a cookie reply, so one source cannot make us send more than
   its rate either. The table is bounded (``MAX_SOURCES`` networks, least recently seen evicted; an
   evicted network starts again with a full bucket, which is what it would hold after a second of quiet).
2. **The CPU budget ("under load").** What handshake processing really costs is measured (the runtime
   passes a CPU clock, ``Context.cpu_time``; the core calls it around the work and charges the
   difference) against ``handshake_cpu`` of one core, with one second's worth of burst
   (:class:`~tapliance.proto.ratelimit.CpuBudget`). While the budget is spent we are *under load*: a
   message is processed only if its mac2 proves that its sender receives at its source address
   (``mac2 = MAC(cookie, msg[0:mac2])``, ``cookie = MAC(R, "address|port")``, ``R`` a random secret
   rotated every two minutes); any other gets a cookie reply (no DH, no state) and is dropped
   (``handshake_under_load``). A flood from many spoofed addresses, each under its network's rate,
   therefore costs at most the budget in DH work, and only cookie replies after that.

Why CPU time rather than a message count: a mac1-valid garbage initiation costs one DH, a complete
handshake five, and a DH costs 50 us on one machine and 1 ms on another; the data plane needs a share
of the CPU, whatever the messages are.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from tapliance.proto.drops import Drop
from tapliance.proto.events import Addr
from tapliance.proto.native import handshake as hs
from tapliance.proto.native import primitives as P
from tapliance.proto.native.constants import COOKIE_SECRET_LIFETIME, HANDSHAKE_CPU_WINDOW, MAX_SOURCES
from tapliance.proto.ratelimit import CpuBudget, TokenBucket


def source_network(host: str) -> bytes | str:
    """The key of ``host``'s bucket: the first 3 bytes of an IPv4 address (/24), 8 of an IPv6 one (/64)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    return ip.packed[:3] if ip.version == 4 else ip.packed[:8]


class CookieChecker:
    def __init__(
        self, static_public: bytes, rate: int, cpu_share: float, random: Callable[[int], bytes], now: float
    ) -> None:
        self.key = hs.cookie_key(static_public)
        self.rate = rate
        self.sources: dict[bytes | str, TokenBucket] = {}  # insertion order = least recently seen first
        self.budget = CpuBudget(cpu_share, HANDSHAKE_CPU_WINDOW, now)
        self.random = random
        self._secret = random(32)
        self._secret_time = now

    def admit(self, data: bytes, mac2_off: int, sender: int, addr: Addr, now: float) -> bytes | Drop | None:
        """None: process the message (then ``charge`` what it cost). A Drop: drop it unanswered (its
        network is over its rate). Bytes: we are under load and its mac2 does not prove its source
        address: the cookie reply to send back instead (count ``handshake_under_load``)."""
        if not self._bucket(addr[0], now).take(now):
            return Drop.HANDSHAKE_RATE_LIMITED
        if not self.budget.exhausted(now):
            return None
        cookie = self._cookie_for(addr, now)
        if hs.check_mac2(data, mac2_off, cookie):
            return None
        nonce = self.random(24)
        return hs.create_cookie_reply(data, mac2_off - 16, sender, cookie, self.key, nonce)

    def charge(self, cpu_seconds: float, now: float) -> None:
        """Handshake processing took ``cpu_seconds`` of CPU."""
        self.budget.charge(cpu_seconds, now)

    def under_load(self, now: float) -> bool:
        return self.budget.exhausted(now)

    def _bucket(self, host: str, now: float) -> TokenBucket:
        key = source_network(host)
        sources = self.sources
        b = sources.pop(key, None)
        if b is None:
            if len(sources) >= MAX_SOURCES:
                del sources[next(iter(sources))]
            b = TokenBucket(self.rate, self.rate, now)
        sources[key] = b
        return b

    def _cookie_for(self, addr: Addr, now: float) -> bytes:
        if now - self._secret_time > COOKIE_SECRET_LIFETIME:
            self._secret = self.random(32)
            self._secret_time = now
        return P.mac(self._secret, f"{addr[0]}|{addr[1]}".encode())
