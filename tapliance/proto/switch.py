"""MAC learning for hub mode: which peer (or the local TAP) a station lives behind.

The hub is a learning switch whose ports are the local TAP and each peer. Frames to a known unicast
MAC go to that port only; broadcast, multicast and unknown destinations are flooded to every port
but the one they came in on. Entries age out, and the table is bounded (oldest evicted) so a peer
spraying random source MACs cannot grow memory without limit.
"""

from __future__ import annotations

from typing import Generic, TypeVar

P = TypeVar("P")
AGING = 300.0
MAX_ENTRIES = 8192


class MacTable(Generic[P]):
    def __init__(self, aging: float = AGING, max_entries: int = MAX_ENTRIES) -> None:
        self.aging = aging
        self.max_entries = max_entries
        self._t: dict[bytes, tuple[P, float]] = {}

    def __len__(self) -> int:
        return len(self._t)

    def learn(self, mac: bytes, port: P, now: float) -> None:
        if mac[0] & 1:  # never learn a multicast source
            return
        t = self._t
        if mac in t:
            del t[mac]  # re-insert: dict order is our LRU order
        elif len(t) >= self.max_entries:
            del t[next(iter(t))]
        t[mac] = (port, now)

    def lookup(self, mac: bytes, now: float) -> P | None:
        e = self._t.get(mac)
        if e is None:
            return None
        if now - e[1] > self.aging:
            del self._t[mac]
            return None
        return e[0]

    def forget(self, port: P) -> None:
        for mac in [m for m, (p, _) in self._t.items() if p is port]:
            del self._t[mac]
