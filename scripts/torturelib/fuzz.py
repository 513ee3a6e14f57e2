"""Figures 1 and 2: a million fuzzed datagrams at a running daemon; a captured session replayed.

Both send from the attacker's namespace x over real UDP to b's daemon (and, for the replay, a's), while
the tunnel runs through a clean recording relay. Accounting: every datagram must raise the daemon's drop
counters by exactly one (``tapliance status`` drops, summed), and the kernel must not have dropped any on
the way in (``RcvbufErrors`` of the daemon's namespace); the sender keeps the daemon's socket queue short
so that it does not.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from typing import Any

from .fuzzgen import Fuzzer
from .kernel import udp_counters, udp_rx_queue
from .lab import ADDR, OVERLAY, Lab
from .report import Result, mib
from .session import Impairment, Session, open_session
from .tunnel import PORT, Tunnel, rss_kib
from .xfer import transfer

QUEUE_LIMIT = 1 << 20  # bytes waiting in the daemon's socket before the sender pauses
CHUNK = 200


def capture_session(lab: Lab, size: int) -> Session:
    """A tunnel through a recording relay that has carried a handshake, pings and ``size`` bytes of TCP."""
    s = open_session(lab, "session", relay=Impairment(record=True))
    s.tunnel.ping("a", count=5, interval=0.05)
    if not transfer(lab, size).intact:
        raise RuntimeError("the capture session's transfer arrived damaged")
    return s


def settled_drops(t: Tunnel, side: str, port: int = PORT, quiet: float = 0.3) -> int:
    """The daemon's drop total once its socket queue is empty and the total stops moving."""
    pid, last, since = t.d[side].pid, -1, time.monotonic()
    while True:
        total = sum(t.drops(side).values())
        if total != last or udp_rx_queue(pid, port):
            last, since = total, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return total
        time.sleep(0.05)


def send_paced(lab: Lab, t: Tunnel, side: str, datagrams: list[bytes] | Any, dst: tuple[str, int]) -> int:
    sock = lab.udp_socket("x")  # kept open: replies (cookies) land here, not on an ICMP error
    pid, sent = t.d[side].pid, 0
    try:
        for d in datagrams:
            sock.sendto(d, dst)
            sent += 1
            if sent % CHUNK == 0:
                while udp_rx_queue(pid, dst[1]) > QUEUE_LIMIT:
                    time.sleep(0.001)
    finally:
        sock.close()
    return sent


def replay(lab: Lab, s: Session) -> Result:
    r = Result("replay", "captured session replayed in order and shuffled", "0 frames delivered; each a counted drop")
    t, rec = s.tunnel, s.recorded()
    by_target = {"b": [d for src, d in rec if src == "a"], "a": [d for src, d in rec if src == "b"]}
    delivered = counted = sent = accepted = 0
    runs, endpoints = [], {s: t.peer(s)["endpoint"] for s in by_target}
    for order in ("in order", "shuffled"):
        for side, recorded in by_target.items():
            dgrams = random.Random(7).sample(recorded, len(recorded)) if order == "shuffled" else recorded
            frames0, drops0, before = t.peer(side)["rx_frames"], settled_drops(t, side), t.drops(side)
            hs0 = t.handshakes_from(side, ADDR["x"])
            n = send_paced(lab, t, side, dgrams, (ADDR[side], PORT))
            c = settled_drops(t, side) - drops0
            after = t.drops(side)
            f, h = t.peer(side)["rx_frames"] - frames0, t.handshakes_from(side, ADDR["x"]) - hs0
            reasons = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
            runs.append({"order": order, "to": side, "sent": n, "counted": c, "delivered": f, "handshakes": h,
                         "drops": reasons})  # fmt: skip
            sent, counted, delivered, accepted = sent + n, counted + c, delivered + f, accepted + h
    moved = [s for s, ep in endpoints.items() if t.peer(s)["endpoint"] != ep]
    r.details = {"recorded_datagrams": len(rec), "replayed": sent, "counted_drops": counted, "delivered": delivered,
                 "initiations_processed": accepted, "endpoints_moved": moved, "runs": runs}  # fmt: skip
    r.measured = f"{sent} datagrams replayed: {delivered} frames delivered, {counted} counted drops" + (
        f" + {accepted} never-delivered initiation(s) processed (no session, no roaming)" if accepted else ""
    )
    r.passed = delivered == 0 and counted + accepted == sent and not moved and t.alive("a") and t.alive("b")
    return r


def fuzz(lab: Lab, s: Session, n: int) -> Result:
    r = Result("fuzz", f"{n:,} fuzzed datagrams at a running daemon", "0 crashes/tracebacks, each a counted drop, "
               "traffic during and after, RSS +<=10 MiB")  # fmt: skip
    t = s.tunnel
    genuine = [d for _src, d in s.recorded()]
    pid = t.d["b"].pid
    rss0, drops0, udp0, hs0 = rss_kib(pid), settled_drops(t, "b"), udp_counters(pid), t.handshakes_from("b", ADDR["x"])
    ping = _Pinger(lab)
    gen = Fuzzer(15, genuine, t.d["b"].public)
    t0 = time.monotonic()
    sent = send_paced(lab, t, "b", gen.datagrams(n), (ADDR["b"], PORT))
    counted = settled_drops(t, "b") - drops0
    accepted = t.handshakes_from("b", ADDR["x"]) - hs0  # replays of initiations b never saw (see replay)
    elapsed = time.monotonic() - t0
    pinged, answered = ping.stop()
    after = transfer(lab, 4 << 20)
    rss1, udp1 = rss_kib(pid), udp_counters(pid)
    lost_in_kernel = udp1.get("RcvbufErrors", 0) - udp0.get("RcvbufErrors", 0)
    d = {
        "sent": sent,
        "kinds": gen.counts,
        "counted_drops": counted,
        "initiations_processed": accepted,
        "kernel_rcvbuf_errors": lost_in_kernel,
        "seconds": round(elapsed, 1),
        "pings_during": f"{answered}/{pinged}",
        "transfer_after_intact": after.intact,
        "rss_before_kib": rss0,
        "rss_after_kib": rss1,
        "tracebacks": t.tracebacks(),
        "internal_errors": t.drops("b").get("internal_error", 0),
        "drops_by_reason": t.drops("b"),
    }
    r.details = d
    r.measured = (
        f"{counted:,} counted drops of {sent:,} sent"
        + (f" (+ {accepted} never-delivered initiation(s) processed)" if accepted else "")
        + f", {lost_in_kernel} lost in the kernel, "
        f"{d['tracebacks']} tracebacks, pings during {answered}/{pinged}, 4 MiB after "
        f"{'intact' if after.intact else 'DAMAGED'}, RSS {mib(rss0 * 1024)} -> {mib(rss1 * 1024)}, {elapsed:.0f} s"
    )
    r.passed = (
        counted + accepted == sent
        and lost_in_kernel == 0
        and t.alive("b")
        and d["tracebacks"] == 0
        and d["internal_errors"] == 0
        and pinged > 0
        and answered >= 0.9 * pinged
        and after.intact
        and rss1 - rss0 <= 10 * 1024
    )
    return r


class _Pinger:
    """Pings through the tunnel (a -> b, every 0.2 s) while the daemon is fuzzed."""

    def __init__(self, lab: Lab) -> None:
        args = ["ip", "netns", "exec", lab.ns("a"), "ping", "-n", "-q", "-i", "0.2", OVERLAY["b"]]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)

    def stop(self) -> tuple[int, int]:
        """(sent, answered)."""
        time.sleep(1.0)  # the last pings' answers
        self.p.send_signal(signal.SIGINT)
        out, _ = self.p.communicate(timeout=10)
        for line in out.splitlines():
            if "transmitted" in line:
                parts = line.split(",")
                return int(parts[0].split()[0]), int(parts[1].split()[0])
        return 0, 0
