"""Client-to-client single-stream TCP through a hub, in three namespaces (hub h, clients c1 and c2, each
client on a veth of its own to h): tapliance's hub against OpenVPN 2.6 ``--server-bridge`` with
``--client-to-client`` (tap, TLS with pinned fingerprints, AES-256-GCM), one after the other in one run."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from tapliance import keyfile
from tapliance.lab import netns

from .figure import Figure
from .lab import BenchError, one_line, run
from .tunnels.openvpn import self_signed

REPO = Path(__file__).resolve().parents[2]
TAPLIANCE = REPO / ".venv" / "bin" / "tapliance"
UL = {"c1": ("10.96.1.2", "10.96.1.1"), "c2": ("10.96.2.2", "10.96.2.1")}  # (client, hub side)
OV = {"h": "10.95.0.1", "c1": "10.95.0.11", "c2": "10.95.0.12"}


@dataclass
class Lab3(netns.NsLab):
    """The hub h and its two clients (tapliance.lab.netns.NsLab: names, processes, teardown)."""

    Error: ClassVar[type[Exception]] = BenchError
    TAG: ClassVar[str] = "tc"

    def _build(self) -> None:
        for n in ("h", "c1", "c2"):
            run(["ip", "netns", "add", self.ns(n)])
            self.sh(n, ["ip", "link", "set", "lo", "up"])
        for c, (mine, hubs) in UL.items():
            self.sh("h", ["ip", "link", "add", f"to{c}", "type", "veth", "peer", "name", "ul0", "netns", self.ns(c)])
            self.sh("h", ["ip", "addr", "add", f"{hubs}/24", "dev", f"to{c}"])
            self.sh("h", ["ip", "link", "set", f"to{c}", "up"])
            self.sh(c, ["ip", "addr", "add", f"{mine}/24", "dev", "ul0"])
            self.sh(c, ["ip", "link", "set", "ul0", "up"])

    def stop_all(self) -> None:
        for p in list(self.procs):
            self.stop(p)

    def wait_ping(self, n: str, addr: str, timeout: float = 30) -> None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.sh(n, ["ping", "-c", "1", "-W", "1", "-q", addr], check=False).returncode == 0:
                return
        raise BenchError(f"{addr} not reachable from {n} within {timeout:g} s")

    def iperf(self, duration: float) -> float:
        srv = self.spawn("c2", ["iperf3", "-s", "-1", "-B", OV["c2"]], self.dir / "iperf-s.log")
        time.sleep(0.5)
        try:
            out = self.sh("c1", ["iperf3", "-c", OV["c2"], "-t", f"{duration:g}", "-J"], timeout=duration + 30).stdout
        finally:
            srv.wait(timeout=10)
        return float(json.loads(out)["end"]["sum_received"]["bits_per_second"])


def _tapliance(lab: Lab3, duration: float) -> float:
    keys = {n: keyfile.generate_private() for n in OV}
    pub = {n: keyfile.encode(keyfile.public_from_private(k)) for n, k in keys.items()}
    for n, k in keys.items():
        (lab.dir / f"c2c-{n}.key").write_text(keyfile.encode(k) + "\n")
        (lab.dir / f"c2c-{n}.key").chmod(0o600)
    for n, addr in OV.items():
        if n == "h":
            peers = "".join(f'[[peer]]\nname = "{c}"\npublic_key = "{pub[c]}"\n' for c in UL)
        else:
            peers = f'[[peer]]\nname = "h"\npublic_key = "{pub["h"]}"\nendpoint = "{UL[n][1]}:9123"\n'
        conf = lab.dir / f"c2c-{n}.toml"
        conf.write_text(f'[interface]\nname = "tl0"\naddresses = ["{addr}/24"]\n[tunnel]\nlisten = ":9123"\n'
                        f'private_key_file = "{lab.dir / f"c2c-{n}.key"}"\n'
                        f'control_socket = "{lab.dir / f"c2c-{n}.sock"}"\n{peers}')  # fmt: skip
        lab.spawn(n, [str(TAPLIANCE), "up", "-c", str(conf)], lab.dir / f"c2c-{n}.log")
        time.sleep(0.8 if n == "h" else 0.1)
    lab.wait_ping("c1", OV["c2"])
    try:
        return lab.iperf(duration)
    finally:
        lab.stop_all()


def _openvpn(lab: Lab3, duration: float) -> float:
    fp = {n: self_signed(f"c2c-{n}", lab.dir / f"ov-{n}.key", lab.dir / f"ov-{n}.crt") for n in OV}
    common = ["openvpn", "--dev", "ovpn0", "--dev-type", "tap", "--proto", "udp", "--disable-dco",
              "--data-ciphers", "AES-256-GCM", "--verb", "3", "--script-security", "1"]  # fmt: skip
    server = lab.dir / "ov-h.conf"
    server.write_text("<peer-fingerprint>\n" + "\n".join(fp[c] for c in UL) + "\n</peer-fingerprint>\n")
    lab.spawn("h", [*common, "--config", str(server), "--mode", "server", "--tls-server", "--dh", "none",
                    "--server-bridge", "--client-to-client", "--port", "1194", "--cert", str(lab.dir / "ov-h.crt"),
                    "--key", str(lab.dir / "ov-h.key")], lab.dir / "ov-h.log")  # fmt: skip
    time.sleep(1.5)
    for c in UL:
        lab.spawn(c, [*common, "--client", "--nobind", "--remote", UL[c][1], "1194", "--peer-fingerprint", fp["h"],
                      "--cert", str(lab.dir / f"ov-{c}.crt"), "--key", str(lab.dir / f"ov-{c}.key")],
                  lab.dir / f"ov-{c}.log")  # fmt: skip
    try:
        for n, addr in OV.items():
            _wait_dev(lab, n)
            lab.sh(n, ["ip", "addr", "add", f"{addr}/24", "dev", "ovpn0"])
            lab.sh(n, ["ip", "link", "set", "ovpn0", "up"])
        lab.wait_ping("c1", OV["c2"])
        return lab.iperf(duration)
    finally:
        lab.stop_all()


def _wait_dev(lab: Lab3, n: str, timeout: float = 30) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if lab.sh(n, ["ip", "link", "show", "ovpn0"], check=False).returncode == 0:
            return
        time.sleep(0.2)
    raise BenchError(f"openvpn on {n}: no ovpn0: {one_line((lab.dir / f'ov-{n}.log').read_text())}")


def client_to_client(work: Path, duration: float) -> Figure:
    f = Figure("client-to-client single-stream TCP through the hub", ">= 3x OpenVPN --server-bridge --client-to-client")
    lab = Lab3.create(work)
    try:
        mine = _tapliance(lab, duration)
        theirs = _openvpn(lab, duration)
    finally:
        lab.destroy()
    f.passed = mine >= 3 * theirs
    f.measured = f"tapliance {mine / 1e9:.2f} Gbit/s vs OpenVPN {theirs / 1e9:.2f} Gbit/s ({mine / theirs:.1f}x)"
    f.details = {"tapliance_bps": mine, "openvpn_bps": theirs}
    return f
