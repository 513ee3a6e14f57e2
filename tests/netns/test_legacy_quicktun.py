"""tapliance against the real QuickTun 2.2.6 of Debian's ``quicktun`` package (side a: QuickTun on qt0 at its
default MTU 1500; side b: ``tapliance up`` with one quicktun-* peer), with the hex keys QuickTun's own
``keypair`` tool made; tapliance's stricter receive rules against QuickTun's real datagrams; salty's
abort in the Debian build (so salty runs tapliance <-> tapliance only, in test_legacy.py); and a hub serving a
native tapliance client and a real QuickTun client at once."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tapliance import keyfile
from tapliance.lab import netns
from tests.netns.legacy import (
    MIB,
    PORT,
    QUICKTUN,
    LegacyLab,
    inject,
    need_quicktun,
    quicktun_keypair,
    send_udp,
    sniff,
    start_quicktun,
    start_tapliance,
    status,
)
from tests.netns.transfer import transfer
from tests.netns.tunnel import OVERLAY, UNDERLAY


@pytest.fixture
def lab(prefix: str, tmp_path: Path) -> Iterator[LegacyLab]:
    need_quicktun()
    lab = LegacyLab.build(prefix, tmp_path)
    for n in ("a", "b"):  # no IPv6 autoconf chatter (RS, MLD) crossing the tunnel while frames are counted
        for conf in ("all", "default"):
            lab.sh(n, ["sysctl", "-qw", f"net.ipv6.conf.{conf}.disable_ipv6=1"])
    try:
        yield lab
    finally:
        lab.stop_all()


def pair(lab: LegacyLab, proto: str, *, quicktun_initiates: bool) -> None:
    """QuickTun ``proto`` in a, tapliance quicktun-``proto`` in b; the initiator knows the other's address."""
    qt_secret, qt_public = quicktun_keypair()
    tl_secret, tl_public = quicktun_keypair()
    settings = {"PROTOCOL": proto, "LOCAL_ADDRESS": UNDERLAY["a"], "LOCAL_PORT": str(PORT)}
    lines = "allow_insecure = true"
    if proto != "raw":
        settings |= {"PRIVATE_KEY": qt_secret, "PUBLIC_KEY": tl_public}
        key = lab.dir / "tl-qt.key"
        key.write_text(tl_secret + "\n")  # QuickTun's PRIVATE_KEY_FILE form: the hex SECRET keypair printed
        key.chmod(0o600)
        lines = f'private_key_file = "{key}"\npublic_key = "{qt_public}"' + ("" if proto == "nacltai" else f"\n{lines}")
    if quicktun_initiates:
        settings |= {"REMOTE_ADDRESS": UNDERLAY["b"], "REMOTE_PORT": str(PORT)}
    # else no REMOTE_ADDRESS: QuickTun floats, sending nothing until tapliance's first datagram
    lab.write_legacy("b", f"quicktun-{proto}", lines, endpoint=not quicktun_initiates)
    if quicktun_initiates:
        lab.start("b")
        lab.start_quicktun("a", settings)
    else:
        lab.start_quicktun("a", settings)
        lab.start("b")


@pytest.mark.parametrize("quicktun_initiates", [True, False], ids=["quicktun-initiates", "tapliance-initiates"])
@pytest.mark.parametrize("proto", ["raw", "nacl0", "nacltai"])
def test_real_quicktun_interoperates(lab: LegacyLab, proto: str, quicktun_initiates: bool) -> None:
    pair(lab, proto, quicktun_initiates=quicktun_initiates)
    first, second = ("a", "b") if quicktun_initiates else ("b", "a")
    lab.wait_ping(first, OVERLAY[second], timeout=15)
    assert lab.ping(second, OVERLAY[first], count=2)
    # a full 1514-byte frame from QuickTun (its TAP at 1500): the datagram is fragmented on the underlay,
    # tapliance takes it whole although its own TAP fits less
    assert lab.ping("a", OVERLAY["b"], count=2, size=1472), lab.logs()
    transfer(lab.sides[first].ns, lab.sides[second].ns, OVERLAY[second], 16 * MIB)
    st = lab.status("b")
    (peer,) = st["peers"]  # type: ignore[misc]
    assert peer["suite"] == f"quicktun-{proto}" and peer["state"] == "up"
    assert peer["endpoint"] == f"{UNDERLAY['a']}:{PORT}"
    assert peer["rx_frames"] > 1000 and peer["tx_frames"] > 1000
    bad = {k: v for k, v in st["drops"].items() if k.startswith("legacy_")}  # type: ignore[attr-defined]
    assert not bad
    assert lab.quicktuns["a"].poll() is None


def _drops(lab: LegacyLab) -> dict[str, int]:
    return lab.status("b")["drops"]  # type: ignore[return-value]


def _rx(lab: LegacyLab) -> int:
    return lab.status("b")["peers"][0]["rx_frames"]  # type: ignore[index, no-any-return]


def _captured(p: subprocess.Popen[str]) -> bytes:
    out, _ = p.communicate(timeout=15)
    assert out, "no QuickTun datagram captured"
    return bytes.fromhex(out)


@pytest.mark.parametrize("proto", ["nacltai", "nacl0"])
def test_stricter_receive_rules_hold_against_real_quicktun(lab: LegacyLab, proto: str) -> None:
    pair(lab, proto, quicktun_initiates=True)
    lab.wait_ping("a", OVERLAY["b"], timeout=15)
    d0, rx0 = _drops(lab), _rx(lab)
    if proto == "nacltai":
        # a datagram QuickTun sent (and tapliance accepted), replayed 3 times: refused by its label
        sniffer = sniff(lab.sides["a"].ns, PORT)
        assert lab.ping("a", OVERLAY["b"], count=1, size=200)
        inject(lab.sides["a"].ns, _captured(sniffer), count=3)
        time.sleep(0.3)
        d1 = _drops(lab)
        assert d1.get("legacy_replay", 0) == d0.get("legacy_replay", 0) + 3
        assert _rx(lab) == rx0 + 1  # the echo request itself, once
    else:
        # nacl0 has one nonce: a replay is byte-identical. Twice at once (inside 0.5 s) it is a counted
        # duplicate; once more 0.8 s later it is accepted, as by QuickTun (the documented limit)
        sniffer = sniff(lab.sides["a"].ns, PORT, resend=2, later=0.8)
        assert lab.ping("a", OVERLAY["b"], count=1, size=200)
        _captured(sniffer)
        time.sleep(0.2)
        d1 = _drops(lab)
        assert d1.get("legacy_duplicate", 0) == d0.get("legacy_duplicate", 0) + 2
        assert _rx(lab) == rx0 + 2  # the original and the late replay
    # garbage from another port of QuickTun's host: counted drops, the endpoint stays, the daemon lives
    label = b"\x7f" * 16 if proto == "nacltai" else b""  # a label above every real one: past the replay check
    send_udp(lab.sides["a"].ns, (UNDERLAY["b"], PORT), [label + os.urandom(200), b"\x01\x02\x03"])
    time.sleep(0.3)
    d2 = _drops(lab)
    assert d2.get("legacy_auth", 0) == d1.get("legacy_auth", 0) + 1
    assert d2.get("legacy_short", 0) == d1.get("legacy_short", 0) + 1
    assert lab.status("b")["peers"][0]["endpoint"] == f"{UNDERLAY['a']}:{PORT}"  # type: ignore[index]
    assert lab.sides["b"].proc is not None and lab.sides["b"].proc.poll() is None
    assert lab.ping("a", OVERLAY["b"], count=2)  # and QuickTun's traffic still gets through


def test_debian_quicktun_salty_aborts(lab: LegacyLab) -> None:
    """Why salty is tested tapliance <-> tapliance only: Debian's build (libsodium) aborts at start, as the
    seed notes found (crypto_box_beforenm on an all-zero key is refused, QuickTun calls abort())."""
    secret, _ = quicktun_keypair()
    _, public = quicktun_keypair()
    lab.sh("a", ["ip", "tuntap", "add", "qt0", "mode", "tap"])
    env = ["IF_QT_PROTOCOL=salty", f"IF_QT_PRIVATE_KEY={secret}", f"IF_QT_PUBLIC_KEY={public}"]
    r = lab.sh("a", ["env", "-i", "IFACE=qt0", *env, QUICKTUN], check=False, timeout=10)
    assert r.returncode in (-6, 134), r  # SIGABRT
    assert b"Encryption key calculation failed" in r.stdout + r.stderr


HUB_UL = {"n": ("10.243.1.1", "10.243.1.2"), "q": ("10.243.2.1", "10.243.2.2")}  # hub's end, client's end
HUB_OL = {"h": "10.244.0.1", "n": "10.244.0.11", "q": "10.244.0.12"}
LEGACY_FIT = 1426  # quicktun-nacltai over a 1500-byte underlay: the hub's TAP gets it by itself


def test_hub_serves_a_native_and_a_real_quicktun_peer(prefix: str, tmp_path: Path) -> None:
    """One daemon, two peers: a native tapliance client on the tunnel's port and a real QuickTun nacltai
    client on a port of its own; the hub reaches both and switches frames between them. Every MTU is its
    default: the clients' TAPs are at 1500, the hub's at what nacltai fits (1426), so full-size frames
    from the native client reach QuickTun as IP-fragmented datagrams, as QuickTun itself would send them."""
    need_quicktun()
    ns = {n: netns.add_ns(f"{prefix}{n}") for n in ("h", "n", "q")}
    for c in ("n", "q"):
        netns.add_veth(ns["h"], f"to{c}", ns[c], "ul0", a_addr=f"{HUB_UL[c][0]}/24", b_addr=f"{HUB_UL[c][1]}/24")
    keys = {n: keyfile.generate_private() for n in ("h", "n")}
    for n, k in keys.items():
        (tmp_path / f"{n}.key").write_text(keyfile.encode(k) + "\n")
        (tmp_path / f"{n}.key").chmod(0o600)
    pub = {n: keyfile.public_from_private(k) for n, k in keys.items()}
    qt_secret, qt_public = quicktun_keypair()
    # the QuickTun peer uses the hub's own (tapliance genkey) key: QuickTun is given its public key in hex
    (tmp_path / "h.toml").write_text(
        f'[interface]\nname = "tl0"\naddresses = ["{HUB_OL["h"]}/24"]\n'
        f'[tunnel]\nlisten = ":9123"\nprivate_key_file = "h.key"\ncontrol_socket = "{tmp_path}/h.sock"\n'
        f'[[peer]]\nname = "native"\npublic_key = "{keyfile.encode(pub["n"])}"\n'
        f'[[peer]]\nname = "quicktun"\nsuite = "quicktun-nacltai"\nlisten = "{HUB_UL["q"][0]}:{PORT}"\n'
        f'public_key = "{qt_public}"\ntime_window = 10\n'
    )
    (tmp_path / "n.toml").write_text(
        f'[interface]\nname = "tl0"\naddresses = ["{HUB_OL["n"]}/24"]\n'
        f'[tunnel]\nlisten = ":9123"\nprivate_key_file = "n.key"\ncontrol_socket = "{tmp_path}/n.sock"\nkeepalive = 2\n'
        f'[[peer]]\nname = "hub"\npublic_key = "{keyfile.encode(pub["h"])}"\nendpoint = "{HUB_UL["n"][0]}:9123"\n'
    )
    procs = []
    try:
        procs.append(start_tapliance(ns["h"], tmp_path / "h.toml", tmp_path / "h.sock", tmp_path / "h.log"))
        procs.append(start_tapliance(ns["n"], tmp_path / "n.toml", tmp_path / "n.sock", tmp_path / "n.log"))
        settings = {
            "PROTOCOL": "nacltai",
            "PRIVATE_KEY": qt_secret,
            "PUBLIC_KEY": bytes(pub["h"]).hex(),
            "REMOTE_ADDRESS": HUB_UL["q"][0],
            "TIME_WINDOW": "10",
        }
        procs.append(start_quicktun(ns["q"], f"{HUB_OL['q']}/24", settings, tmp_path / "q.log"))
        assert mtu_of(ns["h"], "tl0") == LEGACY_FIT
        for src, dst in (("n", "h"), ("q", "h"), ("h", "n"), ("h", "q"), ("n", "q"), ("q", "n")):
            wait_ping(ns[src], HUB_OL[dst], tmp_path)
        for src, dst in (("n", "q"), ("q", "n")):  # 1514-byte frames, native <-> legacy
            r = netns.ns_exec(ns[src], ["ping", "-c", "2", "-W", "2", "-s", "1472", HUB_OL[dst]], check=False)
            assert r.returncode == 0, (tmp_path / "h.log").read_text()[-2000:]
        # through the hub's switch, native <-> legacy, both ways (data one way, ACKs the other)
        transfer(ns["n"], ns["q"], HUB_OL["q"], 16 * MIB)
        transfer(ns["q"], ns["n"], HUB_OL["n"], 4 * MIB)
        st = status(ns["h"], tmp_path / "h.sock")
        assert st["hub"] is True and st["mac_table"] >= 3
        peers = {p["name"]: p for p in st["peers"]}
        assert peers["native"]["state"] == peers["quicktun"]["state"] == "up"
        assert peers["quicktun"]["suite"] == "quicktun-nacltai"
        assert peers["quicktun"]["endpoint"] == f"{HUB_UL['q'][1]}:{PORT}"
        n_to_q, q_to_n = 16 * MIB, 4 * MIB
        assert peers["native"]["rx_bytes"] > n_to_q and peers["quicktun"]["tx_bytes"] > n_to_q
        assert peers["quicktun"]["rx_bytes"] > q_to_n and peers["native"]["tx_bytes"] > q_to_n
        assert not {k: v for k, v in st["drops"].items() if k.startswith("legacy_") or k == "tx_too_big"}
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)


def mtu_of(ns: str, dev: str) -> int:
    return int(json.loads(netns.ns_exec(ns, ["ip", "-j", "link", "show", dev]).stdout)[0]["mtu"])


def wait_ping(ns: str, ip: str, tmp: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while netns.ns_exec(ns, ["ping", "-c", "1", "-W", "1", ip], check=False).returncode:
        assert time.monotonic() < deadline, f"{ip} not reachable from {ns}: " + (tmp / "h.log").read_text()[-2000:]
