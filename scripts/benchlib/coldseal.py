"""What one small ChaCha20-Poly1305 seal costs right after an idle spell, OpenSSL against libsodium, in the
compiled path's own core (tapliance/fastpath/core.c, sodium.c; why it matters: fastpath/sodium.c).

    PYTHONPATH=scripts .venv/bin/python -m benchlib.coldseal [ROUNDS] [SLEEP_MS]

Builds scripts/benchlib/coldseal.c with gcc and libcrypto's headers (scripts/bootstrap installs them) into a
temporary directory and runs it twice: with every message on OpenSSL, and with libsodium loaded as the module
loads it (where libsodium23 is missing, both lines say OpenSSL).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORE = HERE.parents[1] / "tapliance" / "fastpath"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchlib.coldseal", description=__doc__.split("\n\n")[0])
    p.add_argument("rounds", nargs="?", type=int, default=200, help="seals after a sleep, averaged (200)")
    p.add_argument("sleep_ms", nargs="?", type=int, default=20, help="the idle spell before each (20 ms)")
    a = p.parse_args(argv)
    if a.rounds < 1 or not 0 <= a.sleep_ms <= 10_000:
        p.error("rounds must be >= 1 and sleep_ms 0..10000")
    rounds, sleep_ms = str(a.rounds), str(a.sleep_ms)
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "coldseal"
        sources = [str(CORE / "core.c"), str(CORE / "sodium.c"), str(HERE / "coldseal.c")]
        build = subprocess.run(["gcc", "-O2", f"-I{CORE}", *sources, "-lcrypto", "-o", str(exe)], check=False)
        if build.returncode != 0:
            print("coldseal: gcc failed (gcc and libssl-dev: scripts/bootstrap)", file=sys.stderr)
            return 2
        for lib in ("openssl", "sodium"):
            subprocess.run([str(exe), rounds, sleep_ms, lib], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
