"""In-process cost of the data path per frame, Python against compiled (issue 16): one keypair pair, frames of
a few sizes sealed and opened as the receive path opens them (one datagram, or a GRO run), medians of rounds.

    PYTHONPATH=scripts:. .venv/bin/python -m benchlib.fastmicro
"""

from __future__ import annotations

import statistics
import time

from tapliance import fastpath
from tapliance.proto.native import wire as W
from tapliance.proto.native.handshake import Keys
from tapliance.proto.native.keypair import Keypair
from tapliance.proto.native.receive import _open_frames

SIZES = (64, 1400, 62000)


def _pair(suite: str, fast: bool) -> tuple[Keypair, Keypair]:
    keys = Keys(bytes(range(32)), bytes(range(32, 64)))
    mod = fastpath.fast if fast else None
    tx = Keypair(keys, suite, local_index=1, remote_index=2, initiator=True, created=0.0, fast=mod)
    rx = Keypair(
        Keys(keys.recv, keys.send), suite, local_index=2, remote_index=1, initiator=False, created=0.0, fast=mod
    )
    return tx, rx


def _open(rx: Keypair, buf: bytearray, seg: int) -> object:
    v = memoryview(buf)
    _, flags, _, fcnt, receiver, counter = W.DATA_HEADER.unpack_from(v)
    if rx.fast is not None:
        return rx.fast.open_run(v, 0, seg) if len(buf) > seg else rx.fast.open(v, False)
    if len(buf) > seg:
        return _open_frames(v, 0, seg, len(v), fcnt, receiver, counter, flags, rx)
    rx.replay.check(counter)
    out = rx.decrypt(W.nonce96(counter), v[16:], v[:16])
    rx.replay.commit(counter)
    return out


def measure(suite: str, fast: bool, n: int, reps: int) -> tuple[float, float]:
    """Microseconds per frame: (seal, open)."""
    tx, rx = _pair(suite, fast)
    frame = bytes(n)
    t = time.perf_counter()
    bufs = [tx.seal_frame(frame, 1440, 1) for _ in range(reps)]
    seal = (time.perf_counter() - t) / reps * 1e6
    t = time.perf_counter()
    for buf, seg in bufs:
        assert _open(rx, buf, seg) is not None
    return seal, (time.perf_counter() - t) / reps * 1e6


def main() -> None:
    for suite in ("chacha20-poly1305", "aes-256-gcm"):
        for n in SIZES:
            for fast in (False, True):
                if fast and fastpath.fast is None:
                    continue
                reps = 200 if n > 10000 else 5000
                rounds = [measure(suite, fast, n, reps) for _ in range(7)]
                seal = statistics.median(r[0] for r in rounds)
                opened = statistics.median(r[1] for r in rounds)
                path = "compiled" if fast else "python"
                print(f"{suite:18} {n:6} B  {path:8}  seal {seal:7.2f} us  open {opened:7.2f} us")


if __name__ == "__main__":
    main()
