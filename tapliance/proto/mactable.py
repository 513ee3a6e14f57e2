"""The switch's MAC table: learnt source addresses, each behind one port, aged out and bounded.

Entries age out ``aging`` seconds after their MAC was last seen as a source; the table holds at most
``max_entries`` (oldest evicted first: dict order is learn order, re-learning moves an entry to the end)
and each port at most its own cap, so a peer spraying random source MACs fills only its own share and
evicts nobody else's. A MAC that moves to another port is a flap (counted; the switch logs some).
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
AGING = 300.0
MAX_ENTRIES = 8192


class MacTable(Generic[K]):
    def __init__(self, aging: float = AGING, max_entries: int = MAX_ENTRIES) -> None:
        self.aging = aging
        self.max_entries = max_entries
        self._t: dict[bytes, tuple[K, float]] = {}
        self.per_port: dict[K, int] = {}
        self.flaps = 0  # a learnt MAC seen behind another port
        self.refused = 0  # new MACs not learnt because their port was at its cap

    def __len__(self) -> int:
        return len(self._t)

    def learn(self, mac: bytes, port: K, now: float, cap: int = 0) -> K | None:
        """Learn ``mac`` behind ``port``; returns the port it moved from (a flap), else None. With ``cap``,
        a port holding that many entries learns no new MAC (``refused`` counts it)."""
        if mac[0] & 1:  # never learn a multicast source
            return None
        t = self._t
        old = t.get(mac)
        moved = None
        if old is not None and old[0] is port:
            del t[mac]  # re-insert: dict order is our LRU order
        else:
            if cap and self.per_port.get(port, 0) >= cap:
                self.refused += 1
                return None
            if old is not None:
                self.flaps += 1
                moved = old[0]
                self._drop(mac)
            elif len(t) >= self.max_entries:
                self._drop(next(iter(t)))
            self.per_port[port] = self.per_port.get(port, 0) + 1
        t[mac] = (port, now)
        return moved

    def lookup(self, mac: bytes, now: float) -> K | None:
        e = self._t.get(mac)
        if e is None:
            return None
        if now - e[1] > self.aging:
            self._drop(mac)
            return None
        return e[0]

    def expire(self, now: float) -> None:
        """Drop every entry older than ``aging`` (they sit at the front: learn order)."""
        t = self._t
        while t:
            mac, (_port, seen) = next(iter(t.items()))
            if now - seen <= self.aging:
                return
            self._drop(mac)

    def forget(self, port: K) -> None:
        """Every entry behind ``port`` (a peer removed at a reload)."""
        for mac in [m for m, (p, _) in self._t.items() if p is port]:
            self._drop(mac)

    def _drop(self, mac: bytes) -> None:
        port, _ = self._t.pop(mac)
        n = self.per_port.get(port, 1) - 1
        if n:
            self.per_port[port] = n
        else:
            self.per_port.pop(port, None)
