"""The offload data path between real daemons: super-frames intact, mixed offload/plain peers,
and TCP through the tunnel under underlay loss (nft numgen drops)."""

from __future__ import annotations

import json

import pytest

from tapliance.lab import netns
from tests.netns.transfer import transfer as checked
from tests.netns.tunnel import OVERLAY, TunnelLab


def transfer(lab: TunnelLab, size: int, src: str = "a", dst: str = "b") -> None:
    checked(lab.sides[src].ns, lab.sides[dst].ns, OVERLAY[dst], size, port=5002, timeout=180)


def offloads(lab: TunnelLab, n: str) -> str:
    return lab.sides[n].log.read_text().split("(offloads ", 1)[1].split(")", 1)[0]


@pytest.mark.parametrize(("a_offload", "b_offload"), [(True, True), (True, False), (False, True)])
def test_large_transfer_with_and_without_offloads(lab: TunnelLab, a_offload: bool, b_offload: bool) -> None:
    for n, on in (("a", a_offload), ("b", b_offload)):
        lab.write_config(n, iface_extra=f"offload = {str(on).lower()}")
    lab.start("a")
    lab.start("b")
    lab.wait_ping("a", OVERLAY["b"])
    assert (offloads(lab, "a") != "off") == a_offload and (offloads(lab, "b") != "off") == b_offload
    transfer(lab, 48 << 20, "a", "b")
    transfer(lab, 8 << 20, "b", "a")
    for n in "ab":
        drops = lab.status(n)["drops"]
        assert not {k: v for k, v in drops.items() if k not in ("tx_busy", "tap_busy")}, drops  # type: ignore[union-attr]


@pytest.mark.parametrize("segmented", [True, False], ids=["per-datagram-loss", "per-gso-burst-loss"])
def test_tcp_under_loss(lab: TunnelLab, segmented: bool) -> None:
    """2% of underlay packets dropped: TCP through the tunnel still delivers intact, and a lost
    datagram costs only its frame (no stuck reassembly). With ``segmented`` the underlay veth does
    not pass UDP GSO bursts through whole, so single datagrams of a frame are lost (the receiver's
    per-datagram path and reassembly timeouts); otherwise whole sealed super-frames are lost. The
    salvaged segments reach b's kernel with their TCP checksum left to it (a virtio-net header asking
    for it), and the checked transfer says the kernel took them."""
    if segmented:
        lab.sh("a", ["ethtool", "-K", "ul0", "tx-udp-segmentation", "off"])
    lab.start("a")
    lab.start("b")
    lab.wait_ping("a", OVERLAY["b"])
    rules = (
        "table inet tlloss {\n chain in {\n  type filter hook input priority -10;\n"
        "  udp dport 9123 numgen random mod 100 < 2 counter drop\n }\n}\n"
    )
    netns.ns_exec(lab.sides["b"].ns, ["nft", "-f", "-"], input=rules.encode())
    transfer(lab, 16 << 20, "a", "b")
    out = lab.sh("b", ["nft", "-j", "list", "table", "inet", "tlloss"]).stdout
    dropped = [r for r in json.loads(out)["nftables"] if "rule" in r]
    counter = next(e["counter"] for e in dropped[0]["rule"]["expr"] if "counter" in e)
    assert counter["packets"] >= (50 if segmented else 1)  # loss really happened
    status = lab.status("b")
    assert status["reassembly_pending"] <= 64  # type: ignore[operator]
    if segmented:  # partial super-frames were given up at once, their intact segments delivered
        status = lab.status("b")
        drops = status["drops"]
        assert drops.get("frag_overtaken", 0) > 0, drops  # type: ignore[union-attr]
        assert status["reassembly_salvaged"] > 0, status  # type: ignore[operator]
        udp = status["transports"][0]  # type: ignore[index]
        if udp.get("worker"):  # the worker holds the session for the reassembler: whole runs went up as one item
            assert udp["runs_held"] > 0, udp
    assert lab.ping("a", OVERLAY["b"], count=2)
