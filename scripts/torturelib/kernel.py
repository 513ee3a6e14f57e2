"""What the kernel knows about a daemon's socket and namespace, read from /proc (no daemon work)."""

from __future__ import annotations

from pathlib import Path


def udp_rx_queue(pid: int, port: int) -> int:
    """Bytes waiting in the receive queue of the UDP socket bound to ``port`` in ``pid``'s namespace."""
    total = 0
    for name in ("udp", "udp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port:
                total += int(f[4].split(":")[1], 16)
    return total


def udp_counters(pid: int) -> dict[str, int]:
    """The ``Udp:`` counters of ``pid``'s network namespace (InDatagrams, RcvbufErrors, ...)."""
    lines = [ln.split() for ln in Path(f"/proc/{pid}/net/snmp").read_text().splitlines() if ln.startswith("Udp:")]
    names, values = lines[0][1:], lines[1][1:]
    return {k: int(v) for k, v in zip(names, values, strict=True)}
