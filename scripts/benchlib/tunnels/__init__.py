"""The tunnels the bench compares, in table order. Each can be set up between the lab's namespaces,
names its daemon processes (none for kernel tunnels) and tears itself down."""

from __future__ import annotations

from .base import Tunnel
from .fastd import Fastd
from .kernel import Veth, Vxlan
from .openvpn import OpenVpn
from .pyrelay import PyRelay
from .quicktun import QuickTun, TaplianceQuicktun
from .tapliance import Tapliance
from .tinc import Tinc

ALL: tuple[Tunnel, ...] = (
    Veth(),
    Vxlan(),
    OpenVpn(),
    Tinc(),
    Fastd(),
    Tapliance("tapliance", "chacha20-poly1305"),
    Tapliance("tapliance-aes", "aes-256-gcm"),
    Tapliance("tapliance-fast", "chacha20-poly1305", fastpath=True),
    Tapliance("tapliance-fast-aes", "aes-256-gcm", fastpath=True),
    Tapliance("tapliance-fast-loop", "chacha20-poly1305", fastpath=True, worker=False),
    QuickTun(),
    TaplianceQuicktun(),
    PyRelay("pyrelay", aead=False),
    PyRelay("pyrelay-aead", aead=True),
    OpenVpn(tcp=True),
    Tinc(tcp_only=True),
    Tapliance("tapliance-tcp", "chacha20-poly1305", tcp=True),
)
PEERS = ("openvpn", "tinc", "fastd")  # "best peer" in the ratio line is the fastest of these
TAPLIANCE = "tapliance"  # the default-suite tunnel the ratio line is about
# what ``--only tapliance`` selects: both native suites, on the Python and on the compiled data path
NATIVE = ("tapliance", "tapliance-aes", "tapliance-fast", "tapliance-fast-aes", "tapliance-fast-loop")
LEGACY_PAIRS = (("tapliance-quicktun", "quicktun"),)  # a legacy-suite row and the original it speaks to
TCP_ROWS = ("tapliance-tcp", ("openvpn-tcp", "tinc-tcp"))  # issue 12: tapliance over TCP against TCP-only peers


def by_name() -> dict[str, Tunnel]:
    return {t.name: t for t in ALL}


def select(only: str | None) -> list[Tunnel]:
    """Tunnels named in ``--only`` (comma separated; ``tapliance`` also picks ``tapliance-aes``)."""
    if not only:
        return list(ALL)
    wanted = {w.strip() for w in only.split(",") if w.strip()}
    known = by_name()
    unknown = sorted(w for w in wanted if w not in known)
    if unknown:
        raise ValueError(f"unknown tunnel(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return [t for t in ALL if t.name in wanted or (t.name in NATIVE and "tapliance" in wanted)]
