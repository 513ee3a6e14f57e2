"""Root-tier helpers for the legacy suites: key material in the predecessors' own forms, tapliance configs
with a legacy peer, the real QuickTun of Debian's ``quicktun`` package, a checked transfer between any two
namespaces, and capture/injection of datagrams on a namespace's underlay.

The key files follow tests/unit/legacy_pair.py (the originals' formats), with fresh keys, a pad big enough
for a 16 MiB transfer, and one copy per side of what both ends share.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from nacl.bindings import crypto_scalarmult_base

from tapliance.lab import netns
from tests.netns.tunnel import OVERLAY, TAPLIANCE, UNDERLAY, TunnelLab

QUICKTUN = "/usr/sbin/quicktun"  # Debian's package: reads IF_QT_<NAME> and IFACE (seed notes 1.2)
QT_KEYPAIR = "/usr/sbin/keypair"
PORT = 2998  # QuickTun's default port; every legacy socket in these tests uses it
MIB = 1 << 20
PAD_BYTES = 64 * MIB  # OTPTunnel spends 2 pad bytes per byte sent (offsets of one parity)
# the TAP MTU each format fits over a 1500-byte IPv4 underlay (tinytaptunnel's own 1418, tappet 1402)
SUITE_MTU = {
    "tinytaptunnel": 1418,
    "quicktun-raw": 1458,
    "quicktun-nacl0": 1442,
    "quicktun-nacltai": 1426,
    "quicktun-salty": 1438,
    "tappet": 1402,
    "otptunnel": 1436,
}


def need_quicktun() -> None:
    if not os.access(QUICKTUN, os.X_OK):
        pytest.skip(f"{QUICKTUN} missing: scripts/bootstrap installs Debian's quicktun package")


def _write(path: Path, data: bytes, mode: int) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def x25519_pair() -> tuple[bytes, bytes]:
    secret = os.urandom(32)
    return secret, bytes(crypto_scalarmult_base(secret))


def quicktun_keypair() -> tuple[str, str]:
    """A key pair made by QuickTun's own tool: (SECRET hex, PUBLIC hex)."""
    out = subprocess.run([QT_KEYPAIR], capture_output=True, check=True, timeout=10).stdout.decode()
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return fields["SECRET"].strip()[:64], fields["PUBLIC"].strip()[:64]


def suite_lines(d: Path, suite: str) -> dict[str, str]:
    """Key, nonce and pad files for ``suite`` in the originals' forms; the TOML lines of each side's peer.
    Side a is the client (it knows b's endpoint), b the server (tappet -l, OTPTunnel -S)."""
    if suite == "tinytaptunnel":
        key = b"dGFwbGlhbmNlIG5ldG5zIHRlc3Qga2V5OiB0aW55dGFwIQ=="
        return {s: f'key_file = "{_write(d / f"ttt-{s}.key", key, 0o600)}"\nallow_insecure = true' for s in "ab"}
    if suite == "quicktun-raw":
        return {s: "allow_insecure = true" for s in "ab"}
    pairs = {s: x25519_pair() for s in "ab"}
    if suite.startswith("quicktun-"):
        forms = {"a": pairs["a"][0].hex().encode() + b"\n", "b": pairs["b"][0]}  # 64 hex + newline; 32 raw bytes
        insecure = "\nallow_insecure = true" if suite == "quicktun-nacl0" else ""
        return {
            s: f'private_key_file = "{_write(d / f"qt-{s}.key", forms[s], 0o600)}"\n'
            f'public_key = "{pairs[o][1].hex()}"{insecure}'
            for s, o in (("a", "b"), ("b", "a"))
        }
    if suite == "tappet":
        lines = {}
        for s, o, nonce in (("a", "b", 7), ("b", "a", 0)):
            key = _write(d / f"tappet-{s}.key", pairs[s][0].hex().encode() + b"\n", 0o600)
            pub = _write(d / f"tappet-{o}.pub", pairs[o][1].hex().encode() + b"\n", 0o644)
            nf = _write(d / f"tappet-{s}.nonce", nonce.to_bytes(4, "little"), 0o644)
            lines[s] = f'private_key_file = "{key}"\npublic_key_file = "{pub}"\nnonce_file = "{nf}"'
        lines["b"] += "\nserver = true"
        return lines
    assert suite == "otptunnel"
    pad = _write(d / "pad-a", os.urandom(PAD_BYTES), 0o600)
    shutil.copyfile(pad, d / "pad-b")
    (d / "pad-b").chmod(0o600)
    return {
        "a": f'pad_file = "{pad}"\nallow_insecure = true',
        "b": f'pad_file = "{d / "pad-b"}"\nserver = true\nallow_insecure = true',
    }


@dataclass
class LegacyLab(TunnelLab):
    """TunnelLab (namespaces a and b on a veth underlay) plus QuickTun processes and legacy configs."""

    quicktuns: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def write_legacy(self, n: str, suite: str, lines: str, *, endpoint: bool) -> Path:
        """Side ``n``'s config: one peer of ``suite`` on its own port; ``endpoint``: it knows the far end's
        address (else it learns it from the first datagram that opens)."""
        s = self.sides[n]
        other = "b" if n == "a" else "a"
        s.config.write_text(
            f'[interface]\nname = "tl0"\naddresses = ["{OVERLAY[n]}/24"]\n'
            f'\n[tunnel]\ncontrol_socket = "{s.sock}"\n\n'
            f'[[peer]]\nname = "{other}"\nsuite = "{suite}"\nlisten = "{UNDERLAY[n]}:{PORT}"\n'
            + (f'endpoint = "{UNDERLAY[other]}:{PORT}"\n' if endpoint else "")
            + f'{lines}\n\n[log]\nlevel = "debug"\n'
        )
        return s.config

    def start_quicktun(self, n: str, settings: dict[str, str], *, mtu: int = 1500) -> subprocess.Popen[bytes]:
        p = start_quicktun(self.sides[n].ns, f"{OVERLAY[n]}/24", settings, self.dir / f"quicktun-{n}.log", mtu=mtu)
        self.quicktuns[n] = p
        return p

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(self.dir.glob("*.log"))
        )

    def stop_all(self) -> None:
        for p in self.quicktuns.values():
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=10)
        super().stop_all()


def start_quicktun(
    ns: str, address: str, settings: dict[str, str], log: Path, *, mtu: int = 1500
) -> subprocess.Popen[bytes]:
    """Debian's QuickTun in ``ns`` on TAP qt0, which is pre-created, addressed and brought up here as the
    package's if-pre-up hook and ifupdown would do (QuickTun does neither itself). ``settings`` are
    QuickTun's (PROTOCOL, PRIVATE_KEY, ...), passed as the IF_QT_<NAME> variables the Debian build reads."""
    for cmd in (
        ["ip", "tuntap", "add", "qt0", "mode", "tap"],
        ["ip", "link", "set", "qt0", "mtu", str(mtu)],
        ["ip", "addr", "add", address, "dev", "qt0"],
        ["ip", "link", "set", "qt0", "up"],
    ):
        netns.ns_exec(ns, cmd)
    env = [f"IF_QT_{k}={v}" for k, v in settings.items()]
    with open(log, "ab") as f:
        p = subprocess.Popen(
            ["ip", "netns", "exec", ns, "env", "-i", "IFACE=qt0", *env, QUICKTUN],
            stdout=f,
            stderr=f,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 10
    while b"The tunnel is now operational!" not in log.read_bytes():
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            p.wait()
            raise AssertionError(f"quicktun in {ns} did not start: {log.read_text()[-1500:]}")
        time.sleep(0.05)
    return p


def start_tapliance(ns: str, config: Path, sock: Path, log: Path) -> subprocess.Popen[bytes]:
    """``tapliance up -c config`` in ``ns``; returns once its control socket exists."""
    with open(log, "ab") as f:
        p = subprocess.Popen(["ip", "netns", "exec", ns, *TAPLIANCE, "up", "-c", str(config)], stdout=f, stderr=f)
    deadline = time.monotonic() + 10
    while not sock.exists():
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            p.wait()
            raise AssertionError(f"tapliance in {ns} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    return p


def status(ns: str, sock: Path) -> dict[str, Any]:
    out = netns.ns_exec(ns, [*TAPLIANCE, "status", "--json", "-s", str(sock)]).stdout
    return json.loads(out)  # type: ignore[no-any-return]


_SNIFF = """
import socket, sys, time
dport, resend, later = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("ul0", 0))
s.settimeout(10)
while True:
    f, a = s.recvfrom(65535)
    if (a[2] == socket.PACKET_OUTGOING and f[12:14] == b"\\x08\\x00" and f[23] == 17
            and int.from_bytes(f[36:38], "big") == dport and len(f) > 100
            and int.from_bytes(f[20:22], "big") & 0x3FFF == 0):
        break
f = bytearray(f)
f[40:42] = b"\\x00\\x00"  # outgoing veth frames may carry a partial UDP checksum; 0 is "none" for IPv4
for _ in range(resend):
    s.send(f)
if later:
    time.sleep(later)
    s.send(f)
sys.stdout.write(f.hex())
"""


def sniff(ns: str, dport: int, *, resend: int = 0, later: float = 0.0) -> subprocess.Popen[str]:
    """Start capturing the first unfragmented UDP datagram to ``dport`` leaving ``ns`` on ul0 (as a raw
    Ethernet frame, printed in hex at exit). ``resend``: send it again that many times at once (well
    within 0.5 s of the original), ``later``: once more after that many seconds."""
    p = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-c", _SNIFF, str(dport), str(resend), str(later)],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.3)  # bound before the traffic that is to be captured starts
    return p


def inject(ns: str, frame: bytes, count: int = 1) -> None:
    """Send a captured Ethernet frame out of ``ns``'s ul0 again, ``count`` times."""
    code = (
        "import socket,sys;s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW);s.bind(('ul0',0));"
        f"[s.send(bytes.fromhex(sys.argv[1])) for _ in range({count})]"
    )
    netns.ns_exec(ns, [sys.executable, "-c", code, frame.hex()])


def send_udp(ns: str, dst: tuple[str, int], payloads: list[bytes]) -> None:
    """Plain UDP datagrams from ``ns`` (an ephemeral port) to ``dst``."""
    code = (
        "import socket,sys;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
        "[s.sendto(bytes.fromhex(h),(sys.argv[1],int(sys.argv[2]))) for h in sys.argv[3:]]"
    )
    netns.ns_exec(ns, [sys.executable, "-c", code, dst[0], str(dst[1]), *(p.hex() for p in payloads)])
