"""The measurements: iperf3 TCP/UDP and ping through a tunnel, with their pure parsers.

Client in namespace a, server in namespace b, addressed to b's tunnel address, so every byte crosses
the tunnel. Each iperf3 test gets its own one-off server (``-s -1``): a test that fails cannot leave a
wedged server behind for the next one.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from dataclasses import dataclass
from typing import Any

from .lab import BenchError, Lab, one_line

IPERF_PORT = 5201
LOSS_TABLE = "benchloss"
PING_RE = re.compile(r"time[=<]([0-9.]+) ms")


def loss_ruleset(per_mille: int, proto: str = "udp", port: int = 0) -> str:
    """nftables table for side b: drop ``per_mille``/1000 of the tunnel's packets arriving on the underlay:
    UDP datagrams (never iperf3's own port), or for a tunnel over TCP the segments to its ``port``."""
    match = f"tcp dport {port}" if proto == "tcp" else f"meta l4proto udp udp dport != {IPERF_PORT}"
    return (
        f"table inet {LOSS_TABLE} {{\n chain in {{\n  type filter hook input priority -10; policy accept;\n"
        f'  iifname "ul0" {match} numgen random mod 1000 < {per_mille}'
        f" counter drop\n }}\n}}\n"
    )


def dropped_packets(doc: dict[str, Any]) -> int:
    """Sum of the counters in ``nft -j list table`` output."""
    return sum(
        int(e["counter"]["packets"])
        for item in doc.get("nftables", [])
        if "rule" in item
        for e in item["rule"].get("expr", [])
        if "counter" in e
    )


def tcp_result(doc: dict[str, Any]) -> tuple[float, int]:
    """``(bits per second, bytes)`` received, from ``iperf3 -J`` TCP client output."""
    _check_error(doc)
    s = doc["end"]["sum_received"]
    return float(s["bits_per_second"]), int(s["bytes"])


def udp_pps(doc: dict[str, Any]) -> float:
    """Datagrams per second that arrived, from ``iperf3 -u -J`` client output.

    iperf3 3.10+ has ``end.sum_received`` (the server's count); older ones only ``end.sum`` with the
    server-reported loss. Received = sent - lost, never below zero (reordering can make lost negative).
    """
    _check_error(doc)
    end = doc["end"]
    s = end.get("sum_received") or end["sum"]
    received = max(0, int(s["packets"]) - max(0, int(s.get("lost_packets", 0))))
    return received / float(s["seconds"]) if float(s["seconds"]) > 0 else 0.0


def _check_error(doc: dict[str, Any]) -> None:
    if doc.get("error"):
        raise BenchError(f"iperf3: {doc['error']}")
    if "end" not in doc:
        raise BenchError("iperf3: no result in its JSON output")


def ping_rtts(text: str) -> list[float]:
    """Round-trip times in ms, one per answered echo, from ping's per-reply lines."""
    return [float(m.group(1)) for m in PING_RE.finditer(text)]


@dataclass(frozen=True)
class Rtt:
    median_ms: float
    avg_ms: float
    answered: int
    sent: int


def summarize_rtts(rtts: list[float], sent: int) -> Rtt:
    if not rtts:
        raise BenchError(f"ping: none of {sent} echoes answered")
    return Rtt(statistics.median(rtts), statistics.fmean(rtts), len(rtts), sent)


class Runner:
    """Runs the measurements between the lab's namespaces."""

    def __init__(self, lab: Lab, duration: float, omit: int, pings: int, loss_pct: float = 0.0) -> None:
        self.lab = lab
        self.loss_per_mille = round(loss_pct * 10)
        self.pings = pings
        self.duration = duration
        self.omit = omit

    def _iperf(self, far: str, extra: list[str], name: str) -> dict[str, Any]:
        log = self.lab.dir / f"iperf3-server-{name}.log"
        server = self.lab.spawn("b", ["iperf3", "-s", "-1", "-p", str(IPERF_PORT), "--bind", far], log)
        try:
            self._wait_listening(server)
            args = [
                "iperf3",
                "-c",
                far,
                "-p",
                str(IPERF_PORT),
                "-J",
                "--connect-timeout",
                "3000",
                "-t",
                f"{self.duration:g}",
                "-O",
                str(self.omit),
                *extra,
            ]
            p = self.lab.sh("a", args, check=False, timeout=self.duration + self.omit + 30)
            try:
                doc = json.loads(p.stdout)
            except json.JSONDecodeError:
                raise BenchError(f"iperf3 {name}: exit {p.returncode}: {one_line(p.stderr or p.stdout)}") from None
            return doc  # type: ignore[no-any-return]
        finally:
            self.lab.stop(server, timeout=3)

    def _wait_listening(self, server: Any) -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            out = self.lab.sh("b", ["ss", "-Hltn", f"sport = :{IPERF_PORT}"], check=False).stdout
            if out.strip():
                return
            if server.poll() is not None:
                raise BenchError(f"iperf3 server exited with status {server.returncode}")
            time.sleep(0.05)
        raise BenchError("iperf3 server did not start listening")

    def tcp(self, far: str, streams: int) -> tuple[float, int]:
        return tcp_result(self._iperf(far, ["-P", str(streams)], f"tcp{streams}"))

    def tcp_lossy(self, far: str, underlay: tuple[str, int] = ("udp", 0)) -> tuple[float, int]:
        """Single-stream TCP while b's underlay drops ``loss_per_mille``/1000 of the tunnel's packets;
        returns (bits per second, packets dropped). a's veth segments GSO bursts before they cross
        (tx-udp-segmentation off; for tunnels over TCP, TSO and GSO off), as a NIC without USO would:
        otherwise a whole burst crosses the veth as one packet and the rule would drop bursts, not packets."""
        self.lab.sh("a", ["ethtool", "-K", "ul0", "tx-udp-segmentation", "off"])
        if underlay[0] == "tcp":
            self.lab.sh("a", ["ethtool", "-K", "ul0", "tso", "off", "gso", "off"])
        self.lab.sh("b", ["nft", "-f", "-"], input=loss_ruleset(self.loss_per_mille, *underlay).encode())
        try:
            bps = self.tcp(far, 1)[0]
            out = self.lab.sh("b", ["nft", "-j", "list", "table", "inet", LOSS_TABLE]).stdout
            return bps, dropped_packets(json.loads(out))
        finally:
            self.lab.sh("b", ["nft", "delete", "table", "inet", LOSS_TABLE], check=False)
            self.lab.sh("a", ["ethtool", "-K", "ul0", "tx-udp-segmentation", "on"], check=False)
            if underlay[0] == "tcp":
                self.lab.sh("a", ["ethtool", "-K", "ul0", "tso", "on", "gso", "on"], check=False)

    def udp64(self, far: str) -> float:
        return udp_pps(self._iperf(far, ["-u", "-l", "64", "-b", "0"], "udp64"))

    def ping(self, far: str, interval: float = 0.02) -> Rtt:
        count = self.pings
        p = self.lab.sh(
            "a",
            ["ping", "-n", "-c", str(count), "-i", f"{interval:g}", "-W", "1", far],
            check=False,
            timeout=count * interval + 15,
        )
        return summarize_rtts(ping_rtts(p.stdout.decode(errors="replace")), count)
