"""Figure 3: a large TCP transfer through the impairment relay (loss, reordering, duplication)."""

from __future__ import annotations

import re

from .lab import Lab
from .report import Result, mib
from .session import Impairment, open_session
from .tunnel import TCP_PORT
from .xfer import transfer

LOSS, DUP, REORDER = 0.05, 0.02, 8


def impaired_transfer(lab: Lab, size: int) -> Result:
    r = Result("impair", f"{size >> 20} MiB over UDP through {LOSS:.0%} loss, reorder depth {REORDER}, {DUP:.0%} dup",
               "sha256 intact; time and goodput reported")  # fmt: skip
    s = open_session(lab, "impair", relay=Impairment(loss=LOSS, dup=DUP, reorder=REORDER, seed=5))
    try:
        x = transfer(lab, size, timeout=1800)
        drops = {k: v for k, v in s.tunnel.drops("b").items() if v}
        salvaged = s.tunnel.status("b").get("reassembly_salvaged", 0)
    finally:
        stats = s.relay_stats()
        s.close()
    r.details = {"seconds": round(x.seconds, 2), "goodput_mbit": round(x.goodput_mbit, 1), "intact": x.intact,
                 "relay": stats, "b_drops": drops, "b_salvaged_segments": salvaged}  # fmt: skip
    r.measured = (
        f"{'intact' if x.intact else 'DAMAGED'} in {x.seconds:.1f} s = {x.goodput_mbit:.0f} Mbit/s "
        f"({stats.get('lost', 0)} lost, {stats.get('duplicated', 0)} duplicated of {stats.get('received', 0)} "
        f"datagrams; {mib(size)})"
    )
    r.passed = x.intact
    return r


def _tcp_impairment(per_cent_loss: int, per_cent_dup: int) -> str:
    """m drops and duplicates the tunnel's TCP segments it forwards, both ways (nft; this kernel has no
    netem, and a TCP stream cannot pass the datagram relay, so no reordering here)."""
    match = f"tcp dport {TCP_PORT} ct state established"
    back = f"tcp sport {TCP_PORT}"
    return (
        "table inet tortcp {\n chain loss {\n  type filter hook forward priority -10; policy accept;\n"
        f"  {match} numgen random mod 100 < {per_cent_loss} counter drop\n"
        f"  {back} numgen random mod 100 < {per_cent_loss} counter drop\n }}\n}}\n"
        + "".join(
            f"table netdev tordup{dev} {{\n chain e {{\n  type filter hook egress device {dev} priority 0;\n"
            f"  meta l4proto tcp numgen random mod 100 < {per_cent_dup} counter dup to {dev}\n }}\n}}\n"
            for dev in ("va", "vb")
        )
    )


def tcp_transport(lab: Lab, size: int) -> Result:
    r = Result("impair-tcp", f"{size >> 20} MiB over tapliance's TCP transport through {LOSS:.0%} loss, {DUP:.0%} dup",
               "sha256 intact; time and goodput reported")  # fmt: skip
    devs = (("a", "ul0"), ("b", "ul0"), ("m", "va"), ("m", "vb"))
    for side, dev in devs:  # segments, not bursts, cross m
        lab.sh(side, ["ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off"], check=False)
    s = open_session(lab, "impair-tcp", tcp=True)
    rules = s.tunnel.dir / "impair-tcp.nft"
    rules.write_text(_tcp_impairment(round(LOSS * 100), round(DUP * 100)))
    try:
        lab.sh("m", ["nft", "-f", str(rules)])
        x = transfer(lab, size, timeout=1800)
        listing = lab.sh("m", ["nft", "list", "ruleset"]).stdout.decode()
        counts = [int(x) for x in re.findall(r"counter packets (\d+)", listing)]
        lost, duplicated = sum(counts[:2]), sum(counts[2:])
        peer = s.tunnel.peer("a")
    finally:
        for t in ("inet tortcp", "netdev tordupva", "netdev tordupvb"):
            lab.sh("m", ["nft", "delete", "table", *t.split()], check=False)
        s.close()
        for side, dev in devs:
            lab.sh(side, ["ethtool", "-K", dev, "tso", "on", "gso", "on", "gro", "on"], check=False)
    r.details = {"seconds": round(x.seconds, 2), "goodput_mbit": round(x.goodput_mbit, 1), "intact": x.intact,
                 "lost": lost, "duplicated": duplicated, "queue_drops": peer.get("queue_drops")}  # fmt: skip
    r.measured = (f"{'intact' if x.intact else 'DAMAGED'} in {x.seconds:.1f} s = {x.goodput_mbit:.0f} Mbit/s "
                  f"({lost} segments lost, {duplicated} duplicated on the underlay); "
                  "no reordering: no netem here, and a TCP stream cannot pass the datagram relay")  # fmt: skip
    r.passed = x.intact
    return r
