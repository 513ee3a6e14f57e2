"""The native protocol's control messages (addresses and routes a hub hands out) and the lease handout."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

from tapliance import config as C
from tapliance.hub.leases import Leases, read_file, write_file
from tapliance.proto.events import NetworkAssigned
from tapliance.proto.native import wire as W
from tapliance.proto.qtcp import wire as Q
from tests.unit.pair import Net, frame, spec

NET4 = ipaddress.IPv4Interface("10.8.0.1/24")


def _pair(accept: bool, routes: tuple[str, ...] = ()) -> tuple[Net, object, object]:
    net = Net()
    hub, client = net.host("hub", ("192.0.2.1", 9123)), net.host("client", ("192.0.2.2", 9123))
    cspec = dataclasses.replace(
        spec(hub.public, "hub", hub.addr),
        accept_addresses=accept,
        accept_routes=tuple(ipaddress.ip_network(r) for r in routes),
    )
    net.start(client, [cspec])
    net.start(hub, [spec(client.public, "client")])
    net.send_frame(client, frame(b"\xff" * 6, b"\x02" + bytes(5), b"hello"))
    net.run()
    return net, hub, client


def test_a_client_that_accepts_gets_addresses_and_only_allowed_routes() -> None:
    net, hub, client = _pair(True, ("192.168.0.0/16",))
    peer = hub.p.ports[0]
    assert peer.remote_caps & W.CAP_CONTROL
    cfg = Q.NetworkConfig(v4=ipaddress.IPv4Interface("10.8.0.7/24"))
    ok = Q.RouteUpdate(Q.FAMILY_V4, True, bytes([192, 168, 5, 0]), 24)
    bad = Q.RouteUpdate(Q.FAMILY_V4, True, bytes([10, 99, 0, 0]), 16)
    for msg in (cfg.encode(), ok.encode(), bad.encode()):
        assert hub.p.send_control(peer, msg, net.now)
    net.collect(hub)
    net.run()
    got = [e.config for e in client.n.events if isinstance(e, NetworkAssigned)]
    assert got == [cfg, ok]
    assert client.n.drops.get("route_refused") == 1
    assert client.tap_out == [] or all(b"\x0b" not in f[:1] for f in client.tap_out)  # nothing reached the TAP


def test_a_client_that_does_not_accept_is_not_sent_anything() -> None:
    net, hub, _client = _pair(False)
    peer = hub.p.ports[0]
    assert not peer.remote_caps & W.CAP_CONTROL
    assert not hub.p.send_control(peer, Q.NetworkConfig(v4=NET4).encode(), net.now)


def test_malformed_control_messages_are_counted_drops() -> None:
    net, hub, client = _pair(True)
    peer = hub.p.ports[0]
    for msg in (b"\x0b\x02", b"\x63hello", Q.padding(b"\x0b", 3)[:-1]):
        hub.p.send_control(peer, msg, net.now)
    net.collect(hub)
    net.run()
    drops = client.n.drops
    assert drops.get("control_bad", 0) == 2 and drops.get("control_unknown", 0) == 1, dict(drops)


def _pool(tmp: Path, extra: str = "", peers: str = "") -> C.Config:
    (tmp / "k").write_text("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
    text = (
        f'[interface]\naddresses = ["10.8.0.1/24", "fd08::1/64"]\n[tunnel]\nprivate_key_file = "k"\n'
        f'[pool]\nipv4 = "10.8.0.100-10.8.0.109"\nipv6 = "fd08::100-fd08::1ff"\ngateway = ["10.8.0.1"]\n'
        f'routes = ["192.168.1.0/24"]\ndns = ["10.8.0.1"]\n{extra}\n{peers}'
    )
    return C.parse(__import__("tomllib").loads(text), tmp / "t.toml")


def test_leases_are_stable_distinct_reserved_and_survive_a_restart(tmp_path: Path) -> None:
    keys = [bytes([i]) * 32 for i in range(1, 11)]
    peers = [(k, f"p{i}", (), True) for i, k in enumerate(keys)]
    peers[3] = (keys[3], "p3", (ipaddress.ip_address("10.8.0.105"),), True)
    cfg = _pool(tmp_path)
    assert cfg.pool is not None
    leases = Leases(cfg.pool, cfg.interface.addresses, peers)
    got = {k: leases.get(k, 1.0) for k in keys}
    v4 = [str(lease.v4) for lease in got.values() if lease]
    assert len(set(v4)) == 10 and all(a.endswith("/24") for a in v4)  # the whole range, each once
    assert str(got[keys[3]].v4) == "10.8.0.105/24"  # type: ignore[union-attr]
    write_file(tmp_path / "leases", leases.dump())
    again = Leases(cfg.pool, cfg.interface.addresses, list(reversed(peers)))
    again.load(read_file(tmp_path / "leases"))
    assert {k: str(again.get(k, 2.0).v4) for k in keys} == {k: str(v.v4) for k, v in got.items()}  # type: ignore
    extra = Leases(cfg.pool, cfg.interface.addresses, [*peers, (b"\xee" * 32, "late", (), True)])
    extra.load(read_file(tmp_path / "leases"))
    assert extra.get(b"\xee" * 32, 3.0).v4 is None  # type: ignore[union-attr]  # the v4 range is full
    msgs = leases.messages(got[keys[0]])  # type: ignore[arg-type]
    cfg11 = Q.NetworkConfig.decode(msgs[0][1:])
    assert cfg11.v4_peer == ipaddress.IPv4Interface("10.8.0.1/24") and str(cfg11.v4_dns) == "10.8.0.1"
    assert Q.RouteUpdate.decode(msgs[1][1:]).network() == ipaddress.ip_network("192.168.1.0/24")
