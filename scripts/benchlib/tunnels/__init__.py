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
    Tapliance("tapliance-python", "chacha20-poly1305", fastpath=False),
    Tapliance("tapliance-fast", "chacha20-poly1305", fastpath=True),
    Tapliance("tapliance-fast-aes", "aes-256-gcm", fastpath=True),
    Tapliance("tapliance-fast-loop", "chacha20-poly1305", fastpath=True, worker=False),
    Tapliance("tapliance-2q", "chacha20-poly1305", queues=2),
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
# what ``--only tapliance`` selects: both native suites on the default path (the worker point to point), and the
# default suite on the Python path and the compiled calls in the loop
NATIVE = ("tapliance", "tapliance-aes", "tapliance-python", "tapliance-fast-loop")
LEGACY_PAIRS = (("tapliance-quicktun", "quicktun"),)  # a legacy-suite row and the original it speaks to
TCP_ROWS = ("tapliance-tcp", ("openvpn-tcp", "tinc-tcp"))  # issue 12: tapliance over TCP against TCP-only peers


# rows that run only when named: on a point-to-point pair they are what the default ("tapliance") runs
EXPLICIT = ("tapliance-fast", "tapliance-fast-aes", "tapliance-2q")


def by_name() -> dict[str, Tunnel]:
    return {t.name: t for t in ALL}


def select(only: str | None) -> list[Tunnel]:
    """Tunnels named in ``--only`` (comma separated; ``tapliance`` also picks the rest of NATIVE), or the
    default table: every tunnel but the EXPLICIT ones."""
    if not only:
        return [t for t in ALL if t.name not in EXPLICIT]
    wanted = {w.strip() for w in only.split(",") if w.strip()}
    known = by_name()
    unknown = sorted(w for w in wanted if w not in known)
    if unknown:
        raise ValueError(f"unknown tunnel(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return [t for t in ALL if t.name in wanted or (t.name in NATIVE and "tapliance" in wanted)]
