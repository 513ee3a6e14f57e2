"""The responder's defence against handshake floods: a rate and cookies (WireGuard whitepaper 5.4.7).

Each initiation costs the responder an X25519; a flood of (even mac1-valid) initiations must not eat
the CPU the data plane needs. A token bucket caps the handshake rate. Past it, a message is processed
only if its mac2 proves that its sender can receive at its source address: ``mac2 = MAC(cookie,
msg[0:mac2])`` with ``cookie = MAC(R, address)``, ``R`` a random secret rotated every two minutes.
Any other message is answered with a cookie reply (no DH, no state) and dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from tapliance.proto.events import Addr
from tapliance.proto.native import handshake as hs
from tapliance.proto.native import primitives as P
from tapliance.proto.native.constants import COOKIE_SECRET_LIFETIME
from tapliance.proto.ratelimit import TokenBucket


class CookieChecker:
    def __init__(self, static_public: bytes, rate: int, random: Callable[[int], bytes], now: float) -> None:
        self.key = hs.cookie_key(static_public)
        self.bucket = TokenBucket(rate, rate, now)
        self.random = random
        self._secret = random(32)
        self._secret_time = now

    def reply_if_under_load(self, data: bytes, mac2_off: int, sender: int, addr: Addr, now: float) -> bytes | None:
        """None: process the message. Otherwise we are over the handshake rate and its mac2 does not
        prove its source address: the cookie reply to send back instead."""
        if self.bucket.take(now):
            return None
        cookie = self._cookie_for(addr, now)
        if hs.check_mac2(data, mac2_off, cookie):
            return None
        nonce = self.random(24)
        return hs.create_cookie_reply(data, mac2_off - 16, sender, cookie, self.key, nonce)

    def _cookie_for(self, addr: Addr, now: float) -> bytes:
        if now - self._secret_time > COOKIE_SECRET_LIFETIME:
            self._secret = self.random(32)
            self._secret_time = now
        return P.mac(self._secret, f"{addr[0]}|{addr[1]}".encode())
