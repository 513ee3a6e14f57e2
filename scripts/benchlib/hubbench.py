"""``scripts/bench --hub``: the hub at scale (issue 13), three figures, each against its bar.

1. 200 clients against one hub daemon: the clients are a load generator on the sans-IO core speaking the
   real protocol over real sockets (loadgen.py) in namespace a, the hub a real ``tapliance up`` in b.
   Bars: all handshaken within 30 s; hub RSS <= 100 MiB; hub CPU <= 2% of one core while they only keep
   alive (measured over ``KEEP_S`` seconds).
2. 10,000 configured peers: ``tapliance up`` until its control socket answers, and its RSS then.
   Bars: <= 2 s, <= 150 MiB.
3. Client-to-client single-stream TCP through the hub (three namespaces), tapliance against OpenVPN
   ``--server-bridge`` with ``--client-to-client``, same run. Bar: >= 3x.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from tapliance import keyfile
from tapliance.control.client import ControlError, fetch

from . import procstat
from .c2c import client_to_client
from .figure import Figure
from .lab import UNDERLAY, BenchError, Lab

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / ".venv" / "bin" / "python"
TAPLIANCE = REPO / ".venv" / "bin" / "tapliance"
KEEP_S = 30.0
PORT = 9123


def _keys(n: int) -> tuple[list[str], list[str]]:
    privs = [keyfile.generate_private() for _ in range(n)]
    return [keyfile.encode(k) for k in privs], [keyfile.encode(keyfile.public_from_private(k)) for k in privs]


def _hub_config(work: Path, name: str, publics: list[str], listen: str) -> tuple[Path, Path, str]:
    key = keyfile.generate_private()
    kf = work / f"{name}.key"
    kf.write_text(keyfile.encode(key) + "\n")
    kf.chmod(0o600)
    sock = work / f"{name}.sock"
    peers = "".join(f'[[peer]]\nname = "c{i}"\npublic_key = "{p}"\n' for i, p in enumerate(publics))
    conf = work / f"{name}.toml"
    conf.write_text(f'[interface]\nname = "th0"\naddresses = ["10.97.0.1/16"]\n[tunnel]\nlisten = "{listen}"\n'
                    f'private_key_file = "{kf}"\ncontrol_socket = "{sock}"\n{peers}')  # fmt: skip
    return conf, sock, keyfile.encode(keyfile.public_from_private(key))


def _wait_socket(sock: Path, proc: Any, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise BenchError(f"hub exited with status {proc.returncode}")
        try:
            fetch(sock, timeout=2)
            return time.monotonic() - t0
        except ControlError:
            time.sleep(0.02)
    raise BenchError(f"hub control socket not answering after {timeout:g} s")


def two_hundred(lab: Lab, work: Path, n: int = 200) -> Figure:
    f = Figure(f"{n} clients against one hub", "all handshaken <= 30 s; hub RSS <= 100 MiB; hub CPU <= 2% idle")
    privs, pubs = _keys(n)
    conf, sock, hub_pub = _hub_config(work, "hub200", pubs, f"{UNDERLAY['b']}:{PORT}")
    hub = lab.spawn("b", [str(TAPLIANCE), "up", "-c", str(conf)], work / "hub200.log")
    try:
        _wait_socket(sock, hub, 15)
        (work / "keys.json").write_text(json.dumps(privs))
        out = work / "loadgen.json"
        env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'scripts'}"}
        args = [str(PYTHON), "-m", "benchlib.loadgen", "--hub", f"{UNDERLAY['b']}:{PORT}", "--hub-key", hub_pub,
                "--keys", str(work / "keys.json"), "--listen", UNDERLAY["a"], "--out", str(out)]  # fmt: skip
        t0 = time.monotonic()
        gen = lab.spawn("a", args, work / "loadgen.log", env=env)
        up = 0
        while time.monotonic() - t0 < 60 and up < n:
            time.sleep(0.5)
            up = sum(p["state"] == "up" for p in fetch(sock, timeout=5)["peers"])
            if gen.poll() is not None:
                raise BenchError(f"load generator exited: {(work / 'loadgen.log').read_text()[-300:]}")
        took = time.monotonic() - t0
        time.sleep(3)
        cpu0, t1 = procstat.cpu_seconds([hub.pid]), time.monotonic()
        time.sleep(KEEP_S)
        cpu = (procstat.cpu_seconds([hub.pid]) - cpu0) / (time.monotonic() - t1)
        mem = procstat.memory([hub.pid])
        lab.stop(gen)
    finally:
        lab.stop(hub)
    rss = mem.hwm_kib / 1024
    f.passed = up == n and took <= 30 and rss <= 100 and cpu <= 0.02
    f.measured = (f"{up}/{n} handshaken in {took:.1f} s; hub peak RSS {rss:.1f} MiB; hub CPU {cpu * 100:.2f}% of "
                  f"a core over {KEEP_S:.0f} s of keepalives only")  # fmt: skip
    f.details = {"up": up, "seconds": round(took, 2), "hub_hwm_mib": round(rss, 1), "hub_cpu_share": round(cpu, 5)}
    return f


def ten_thousand(lab: Lab, work: Path, n: int = 10000) -> Figure:
    f = Figure(f"{n:,} configured peers", "config load and node start <= 2 s; RSS <= 150 MiB")
    _privs, pubs = _keys(n)
    conf, sock, _ = _hub_config(work, "hub10k", pubs, f"{UNDERLAY['b']}:{PORT + 1}")
    t0 = time.monotonic()
    hub = lab.spawn("b", [str(TAPLIANCE), "up", "-c", str(conf)], work / "hub10k.log")
    try:
        _wait_socket(sock, hub, 30)
        took = time.monotonic() - t0
        mem = procstat.memory([hub.pid])
        peers = len(fetch(sock, timeout=10)["peers"])
    finally:
        lab.stop(hub)
    rss = mem.rss_kib / 1024
    f.passed = peers == n and took <= 2.0 and rss <= 150
    f.measured = (f"{peers:,} peers: `tapliance up` answering status after {took:.2f} s (process start included); "
                  f"RSS {rss:.1f} MiB")  # fmt: skip
    f.details = {"peers": peers, "seconds": round(took, 3), "rss_mib": round(rss, 1)}
    return f


def run(work: Path, duration: float) -> list[Figure]:
    lab = Lab.create(work)
    try:
        figures = []
        for fn in (two_hundred, ten_thousand):
            try:
                figures.append(fn(lab, work))
            except BenchError as e:
                figures.append(Figure(fn.__name__, "", measured=f"ERROR: {e}", passed=False))
    finally:
        lab.destroy()
    try:
        figures.append(client_to_client(work, duration))
    except BenchError as e:
        figures.append(Figure("client-to-client TCP through the hub", "", measured=f"ERROR: {e}", passed=False))
    return figures


def table(figures: list[Figure]) -> str:
    rows = ["| figure | bar | measured | result |", "|---|---|---|---|"]
    for f in figures:
        result = "PASS" if f.passed else "FAIL" if f.passed is not None else "info"
        rows.append(f"| {f.what} | {f.bar} | {f.measured} | {result} |")
    return "\n".join(rows)
