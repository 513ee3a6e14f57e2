"""Two real daemons in two namespaces on a veth underlay: traffic, integrity, replay, healing, keys."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tapliance.lab import netns
from tests.netns.transfer import transfer
from tests.netns.tunnel import OVERLAY, TAPLIANCE, TunnelLab


def drops(lab: TunnelLab, n: str) -> dict[str, int]:
    return lab.status(n)["drops"]  # type: ignore[return-value]


def test_ping_and_32mib_transfer_intact(lab: TunnelLab) -> None:
    lab.start("a")
    lab.start("b")
    lab.wait_ping("a", OVERLAY["b"])
    assert lab.ping("b", OVERLAY["a"], count=3)
    assert lab.ping("a", OVERLAY["b"], count=2, size=8000)  # fragmented on the TAP side and ours
    transfer(lab.sides["a"].ns, lab.sides["b"].ns, OVERLAY["b"], 32 << 20)
    st = lab.status("a")
    peer = st["peers"][0]  # type: ignore[index]
    assert peer["state"] == "up" and peer["tx_bytes"] > 32 << 20
    assert lab.status("b")["peers"][0]["endpoint"] == "10.231.0.1:9123"  # type: ignore[index]


def _capture_data_frame(lab: TunnelLab) -> bytes:
    """Sniff one tapliance data datagram leaving A on the underlay (as raw Ethernet)."""
    code = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.htons(3));s.bind(('ul0',0));s.settimeout(10)\n"
        "while True:\n"
        "  f,a=s.recvfrom(65535)\n"
        "  if a[2]==socket.PACKET_OUTGOING and f[12:14]==b'\\x08\\x00' and f[23]==17 and f[42]==4 and len(f)>100:\n"
        "    sys.stdout.write(f.hex());break\n"
    )
    sniff = subprocess.Popen(
        ["ip", "netns", "exec", lab.sides["a"].ns, sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
    )
    time.sleep(0.3)
    lab.ping("a", OVERLAY["b"], count=2, size=200)
    out, _ = sniff.communicate(timeout=15)
    frame = bytearray(bytes.fromhex(out))
    # Outgoing veth frames may carry a partial (offloaded) UDP checksum; 0 means "none" for UDP/IPv4.
    frame[40:42] = b"\x00\x00"
    return bytes(frame)


def test_replayed_datagram_is_rejected(lab: TunnelLab) -> None:
    for side in ("a", "b"):  # no IPv6 autoconf chatter (RS, MLD) crossing the tunnel while frames are counted
        for conf in ("all", "default"):
            lab.sh(side, ["sysctl", "-qw", f"net.ipv6.conf.{conf}.disable_ipv6=1"])
    lab.start("a")
    lab.start("b")
    lab.wait_ping("a", OVERLAY["b"])
    frame = _capture_data_frame(lab)
    before = drops(lab, "b").get("replay", 0)
    rx_before = lab.status("b")["peers"][0]["rx_frames"]  # type: ignore[index]
    inject = (
        f"import socket;s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW);s.bind(('ul0',0));"
        f"[s.send(bytes.fromhex('{frame.hex()}')) for _ in range(3)]"
    )
    lab.sh("a", [sys.executable, "-c", inject])
    time.sleep(0.5)
    assert drops(lab, "b").get("replay", 0) == before + 3
    assert lab.status("b")["peers"][0]["rx_frames"] == rx_before  # type: ignore[index]


def test_kill9_and_restart_heals(lab: TunnelLab) -> None:
    lab.start("a")
    lab.start("b")
    lab.wait_ping("a", OVERLAY["b"])
    lab.stop("b", signal.SIGKILL)  # the listener loses all session state
    lab.start("b")  # stale control socket is replaced, TAP recreated
    healed = lab.wait_ping("a", OVERLAY["b"], timeout=40)
    assert healed < 40
    lab.stop("a", signal.SIGKILL)  # and the initiator
    lab.start("a")
    lab.wait_ping("a", OVERLAY["b"], timeout=20)
    assert lab.status("a")["peers"][0]["state"] == "up"  # type: ignore[index]


def test_wrong_peer_key_gets_no_traffic_through(lab: TunnelLab) -> None:
    from tapliance import keyfile

    stranger = keyfile.encode(keyfile.public_from_private(keyfile.generate_private()))
    lab.write_config("b", peer_key=stranger)  # b expects someone else
    lab.start("a")
    lab.start("b")
    assert not lab.ping("a", OVERLAY["b"], count=3)
    deadline = time.monotonic() + 12  # the initiation is retransmitted every 5 s
    while drops(lab, "b").get("unknown_peer", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert drops(lab, "b").get("unknown_peer", 0) >= 1
    assert lab.status("a")["peers"][0]["state"] in ("handshaking", "idle")  # type: ignore[index]
    assert lab.status("b")["peers"][0]["rx_frames"] == 0  # type: ignore[index]


def test_sigterm_removes_tap_and_socket(lab: TunnelLab) -> None:
    s = lab.start("a")
    assert lab.sh("a", ["ip", "link", "show", "tl0"], check=False).returncode == 0
    assert lab.stop("a") == 0
    assert lab.sh("a", ["ip", "link", "show", "tl0"], check=False).returncode != 0
    assert not s.sock.exists()


def test_attaches_to_precreated_tap_and_leaves_it(lab: TunnelLab) -> None:
    lab.sh("a", ["ip", "tuntap", "add", "mode", "tap", "name", "tl0"])
    lab.start("a")
    lab.start("b")
    lab.wait_ping("a", OVERLAY["b"])
    lab.stop("a")
    out = lab.sh("a", ["ip", "-o", "addr", "show", "dev", "tl0"]).stdout.decode()
    assert OVERLAY["a"] not in out  # our address removed, the persistent device kept


def test_startup_failure_leaves_nothing(lab: TunnelLab) -> None:
    # Something else already holds the UDP port: the daemon must fail in one line and remove its TAP.
    holder = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            lab.sides["a"].ns,
            sys.executable,
            "-c",
            "import socket,time;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
            "s.bind(('10.231.0.1',9123));print('ok',flush=True);time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        lab.write_config("a")
        r = lab.sh("a", [*TAPLIANCE, "up", "-c", str(lab.sides["a"].config)], check=False)
        err = r.stderr.decode()
        assert r.returncode == 1
        assert "tapliance: cannot listen on UDP 10.231.0.1:9123: Address already in use" in err
        assert "Traceback" not in err
        assert lab.sh("a", ["ip", "link", "show", "tl0"], check=False).returncode != 0
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda p: p.write_text(p.read_text().replace('name = "tl0"', 'name = "way-too-long-ifname"')),
            "interface.name: not a valid interface name",
        ),
        (lambda p: (p.parent / "a.key").chmod(0o644), "readable by others"),
        (lambda p: p.write_text(p.read_text() + "\n[nat]\nuplink = 'eth0'\nfoo = 1\n"), "nat.foo: unknown key"),
    ],
)
def test_bad_input_exits_2_and_creates_nothing(lab: TunnelLab, mutate: object, message: str) -> None:
    cfg = lab.write_config("a")
    mutate(cfg)  # type: ignore[operator]
    r = lab.sh("a", [*TAPLIANCE, "up", "-c", str(cfg)], check=False)
    err = r.stderr.decode()
    assert r.returncode == 2 and message in err and err.count("\n") == 1, err
    links = lab.sh("a", ["ip", "-o", "link"]).stdout.decode().splitlines()
    assert [ln.split(":")[1].strip().split("@")[0] for ln in links] == ["lo", "ul0"]  # nothing new


def test_namespaces_are_removed(prefix: str, tmp_path: Path) -> None:
    TunnelLab.build(prefix, tmp_path)
    assert len(netns.list_ns(prefix)) == 2
    netns.cleanup(prefix)
    assert netns.list_ns(prefix) == []
