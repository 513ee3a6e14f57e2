"""The daemon's TCP side: the TCP transport (listener, dials, port sharing), the watch on native endpoints
given by DNS name, and the addresses and routes a TCP server hands us."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tapliance import config as C
from tapliance.assembly import Built

if TYPE_CHECKING:
    from tapliance.runtime.loop import Runtime, Transport


def tcp_side(cfg: C.Config, built: Built, undo: list[tuple[str, Callable[[], object]]]) -> list[Transport]:
    """The TCP listener (and its dials) for peers over TCP; the watch on native endpoints given by name."""
    from tapliance.runtime.resolve import NameWatch
    from tapliance.runtime.tcp import TcpTransport

    out: list[Transport] = []
    if built.tcp is not None:
        t = cfg.tunnel
        tcp = TcpTransport(
            built.tcp,
            built.node.drops,
            listen_on=t.tcp_listen,
            share=t.tcp_share_backend,
            proxy_v2=t.tcp_proxy_protocol,
        )
        undo.append((f"TCP {t.tcp_listen or 'client'}", tcp.close))
        out.append(tcp)
    if built.names and built.native is not None:
        watch = NameWatch(built.native, dict(built.names), ":" in cfg.tunnel.listen.host)
        watch.start()
        undo.append(("resolver", watch.close))
        out.append(watch)
    return out


def handout(cfg: C.Config, rt: Runtime, undo: list[tuple[str, Callable[[], object]]]) -> None:
    """Addresses and routes a hub or TCP server hands us go on our TAP (routes via the gateway it names), and
    come off it at exit."""
    import ipaddress

    from tapliance.net.handout import Handout
    from tapliance.proto.events import Event, NetworkAssigned
    from tapliance.proto.qtcp.wire import NetworkConfig, RouteUpdate

    h = Handout(cfg.interface.name)
    undo.append(("handed-out addresses", h.clear))

    gateways: dict[tuple[str, int], str] = {}  # (peer, IP version) -> the gateway it named

    def on_event(ev: Event) -> None:
        if isinstance(ev, NetworkAssigned) and isinstance(ev.config, NetworkConfig):
            c = ev.config
            ifs: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface] = [i for i in (c.v4, c.v6) if i is not None]
            h.assign(ev.peer, ifs)
            for version, gw in ((4, c.v4_peer), (6, c.v6_peer)):
                if gw is not None:
                    gateways[(ev.peer, version)] = str(gw.ip)
        elif isinstance(ev, NetworkAssigned) and isinstance(ev.config, RouteUpdate):
            net = ev.config.network()
            if net is not None:
                h.route(ev.peer, net, ev.config.valid, gateways.get((ev.peer, net.version)))

    rt.listeners.append(on_event)


def remember_endpoints(cfg: C.Config, built: Built, rt: Runtime) -> None:
    """Learnt endpoints survive a restart (runtime/endpoints.py)."""
    from tapliance.runtime.endpoints import Endpoints, path_for

    if built.native is None:
        return
    eps = Endpoints(path_for(cfg.interface.name), built.native)
    eps.restore({p.public_key for p in cfg.peers if p.udp and p.public_key is not None and p.endpoint is not None})
    rt.listeners.append(eps.on_event)
