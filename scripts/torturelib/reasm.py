"""Figure 7: reassembly attacks and a MAC flood from an authenticated (rogue) peer of a hub.

b is a hub with two peers, a and the rogue. Each attack phase starts with b's reassembly empty; the rogue
sends it, b's status is read at the peak, and after the reassembly timeout every partial frame must be gone.
The expected drops of a phase come from the same sequence of fragments fed to a local Reassembler (the
product's own bounds and rules): b must count exactly those, by reason. Phases:
  partial    super-frames of up to 45 x 1457 bytes that never complete (the 64-frame and 4 MiB bounds)
  overlap    a fragment sent twice, and a fragment sent again with other bytes (replay: its counter was seen)
  conflict   fragments of one frame that disagree on the fragment count (frag_inconsistent)
  oversize   fragments that add up to more than MAX_FRAME (frag_oversize)
  badindex   a fragment index past its count (bad_header, before any decryption)
  macflood   complete frames from random source MACs (the 8192-entry MAC table)
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

from tapliance.proto.drops import Drop, Drops
from tapliance.proto.mactable import MAX_ENTRIES
from tapliance.proto.native import constants as K
from tapliance.proto.native.fragments import Reassembler
from tapliance.proto.native.keypair import Keypair

from .lab import ADDR, Lab
from .report import Result, mib
from .rogue import Rogue
from .session import open_session
from .tunnel import PORT, Tunnel, rss_kib

CHUNK = 1400
BIG_CHUNK = 1457  # 45 of them: 65565 bytes, the largest a frame may be (MAX_FRAME)
SPAN = 8000  # counters a phase may use: inside the receiver's replay window (8128)
Frag = tuple[int, int, int, bytes]  # counter, index, count, chunk


def partial(rng: random.Random, frames: int) -> Iterator[list[Frag]]:
    """As large as a frame may be (45 x 1457 bytes: MAX_FRAME): 64 of them pass 4 MiB, so both bounds act."""
    if frames * 45 > SPAN:
        raise ValueError("too many partial frames for one phase")
    for _ in range(frames):
        yield [(0, i, 255, rng.randbytes(BIG_CHUNK)) for i in range(45)]


def overlap(rng: random.Random, frames: int) -> Iterator[list[Frag]]:
    """A fragment twice, and a fragment again with other bytes: a fragment's place in its frame fixes its
    counter, so a second copy, whatever it holds, is a replay to the receiver (never frag_duplicate)."""
    for _ in range(frames):
        a, b = rng.randbytes(CHUNK), rng.randbytes(CHUNK)
        yield [(0, 0, 4, a), (0, 0, 4, a), (0, 1, 4, b), (0, 1, 4, rng.randbytes(CHUNK))]


def conflict(rng: random.Random, frames: int) -> Iterator[list[Frag]]:
    for _ in range(frames):
        yield [(0, 0, 10, rng.randbytes(CHUNK)), (0, 1, 20, rng.randbytes(CHUNK)), (0, 2, 10, rng.randbytes(CHUNK))]


def oversize(rng: random.Random, frames: int) -> Iterator[list[Frag]]:
    for _ in range(min(frames, SPAN // 60)):
        yield [(0, i, 255, rng.randbytes(CHUNK)) for i in range(60)]


PHASES: dict[str, Callable[[random.Random, int], Iterator[list[Frag]]]] = {
    "partial": partial,
    "overlap": overlap,
    "conflict": conflict,
    "oversize": oversize,
}


def _phase(rogue: Rogue, kp: Keypair, frames: Iterator[list[Frag]], t: Tunnel) -> tuple[dict[str, int], dict[str, Any]]:
    """Send a phase; the drops the product's rules expect for it, and b's reassembly state at the peak.

    Frames go out in falling counter order, each below the last (within the replay window): no datagram ever
    passes a partial frame, so none is given up as overtaken, and what b counts does not depend on timing
    (evictions follow the order of arrival; what is left times out). The model runs the same rules."""
    model, seen = Reassembler(Drops()), set()
    top = kp.counter + SPAN
    base = top
    for frame in frames:
        base -= max(index for _, index, _, _ in frame) + 1
        for _, index, count, chunk in frame:
            rogue.send(rogue.seal(kp, base + index, index, count, chunk))
            if base + index in seen:  # the replay window: a frame's fragment index fixes its counter
                model.drops.count(Drop.REPLAY)
                continue
            seen.add(base + index)
            model.add(base + index, index, count, chunk, 0.0)
            model.overtaken(base + index, 0.0)
    if base < kp.counter:
        raise ValueError("phase too long for the replay window")
    kp.counter = top + 1
    time.sleep(0.2)
    peak = t.status("b")
    model.expire(1e9)
    return {str(k): v for k, v in model.drops.items()}, peak


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def _macflood(rogue: Rogue, kp: Keypair, n: int, t: Tunnel) -> int:
    rng, peak = random.Random(9), 0
    for i in range(n):
        src = bytes([0x02]) + rng.randbytes(5)
        frame = bytes.fromhex("02eeeeeeeeee") + src + b"\x08\x00" + rng.randbytes(46)
        rogue.send(rogue.seal(kp, rogue.counters(kp, 1), 0, 1, frame))
        if i % 2000 == 1999:
            peak = max(peak, int(t.status("b")["mac_table"]))
    time.sleep(0.3)
    return max(peak, int(t.status("b")["mac_table"]))


def reassembly(lab: Lab, frames: int, macs: int) -> Result:
    r = Result("reasm", "reassembly attacks and a MAC flood from an authenticated peer",
               "<= 64 frames / 4 MiB buffered, MAC table <= 8192; every fragment a counted drop")  # fmt: skip
    s = open_session(lab, "reasm", relay=None)
    t = s.tunnel
    rogue = Rogue(lab, (ADDR["b"], PORT), t.d["b"].public, 0)
    try:
        _rehub(t, rogue)
        rogue.target_pid = t.d["b"].pid
        kp = rogue.handshake()
        rss0 = rss_kib(t.d["b"].pid)
        phases, ok = {}, True
        for name, gen in PHASES.items():
            before = t.drops("b")
            expected, peak = _phase(rogue, kp, gen(random.Random(name), frames), t)
            time.sleep(K.REASSEMBLY_TIMEOUT + 1.2)
            got = _delta(before, t.drops("b"))
            left = t.status("b")["reassembly_pending"]
            bounded = peak["reassembly_pending"] <= 64 and peak["reassembly_bytes"] <= 4 << 20
            phases[name] = {"expected": expected, "counted": got, "peak_frames": peak["reassembly_pending"],
                            "peak_bytes": peak["reassembly_bytes"], "left": left}  # fmt: skip
            ok = ok and got == expected and bounded and left == 0
        before = t.drops("b")
        for i in range(frames):
            kp_counter = rogue.counters(kp, 2)
            rogue.send(rogue.seal(kp, kp_counter, 2 + i % 3, 2, os.urandom(64)))
        time.sleep(0.3)
        got = _delta(before, t.drops("b"))
        phases["badindex"] = {"expected": {"bad_header": frames}, "counted": got}
        ok = ok and got == {"bad_header": frames}
        mac_peak = _macflood(rogue, kp, macs, t)
        rss1 = rss_kib(t.d["b"].pid)
        alive = t.alive("b") and t.tracebacks() == 0
    finally:
        rogue.close()
        s.close()
    peak_bytes = max(p.get("peak_bytes", 0) for p in phases.values())
    peak_frames = max(p.get("peak_frames", 0) for p in phases.values())
    r.details = {"phases": phases, "mac_table_peak": mac_peak, "rss_before_kib": rss0, "rss_after_kib": rss1}
    r.measured = (
        f"peak {peak_frames} frames / {mib(peak_bytes)} buffered, MAC table peak {mac_peak} after {macs:,} "
        f"source MACs; drops as expected in {sum(p['counted'] == p['expected'] for p in phases.values())}/"
        f"{len(phases)} phases; RSS {mib(rss0 * 1024)} -> {mib(rss1 * 1024)}"
    )
    r.passed = ok and alive and mac_peak <= MAX_ENTRIES and rss1 - rss0 <= 16 * 1024
    return r


def _rehub(t: Tunnel, rogue: Rogue) -> None:
    """b restarted as a hub: its peers are a and the rogue."""
    t.stop("b")
    t.d["b"].extra_peers = [("rogue", rogue.public)]
    t.configure("b")
    t.start("b")
    t.wait_ping("a", timeout=20)
