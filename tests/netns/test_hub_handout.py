"""A hub with a [pool]: its clients (over UDP and over TCP) get distinct, stable addresses and the pushed
routes; a reservation is honoured; the leases survive a hub restart."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.netns.tcplab import TCP_PORT, UDP_PORT, Node, star, stop_all, tcp_peer


def _addr(n: Node) -> str:
    out = n.sh("ip", "-o", "-4", "addr", "show", "dev", "tl0", check=True).stdout.decode()
    return " ".join(line.split()[3] for line in out.splitlines())


def _wait_addr(n: Node, timeout: float = 15) -> str:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        got = _addr(n)
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"{n.name} got no address:\n{n.log.read_text()[-2000:]}")


def test_hub_hands_out_stable_addresses_over_udp_and_tcp(prefix: str, tmp_path: Path) -> None:
    hub, clients = star(prefix, tmp_path, 3)
    leases = tmp_path / "leases.json"
    pool = (
        f'[pool]\nipv4 = "10.252.0.100-10.252.0.199"\ngateway = ["10.252.0.1"]\nroutes = ["10.77.0.0/24"]\n'
        f'leases_file = "{leases}"\n'
    )
    peers = (
        f'[[peer]]\nname = "c1"\npublic_key = "{clients[0].public}"\nreserve = ["10.252.0.150"]\n'
        f'[[peer]]\nname = "c2"\npublic_key = "{clients[1].public}"\n' + tcp_peer("c3", key=clients[2].public)
    )
    hub.write(peers + "\n" + pool, f'tcp_listen = ":{TCP_PORT}"')
    hub.config.write_text(hub.config.read_text().replace("[[peer]]", "\n[[peer]]", 1))
    for i, c in enumerate(clients[:2], 1):
        c.write(
            f'[[peer]]\nname = "hub"\npublic_key = "{hub.public}"\nendpoint = "10.251.{i}.1:{UDP_PORT}"\n'
            'accept_routes = ["10.77.0.0/16"]\n',
            addresses=False,
        )
    clients[2].write(
        tcp_peer("hub", key=hub.public, endpoint=f"10.251.3.1:{TCP_PORT}", extra='accept_routes = ["10.77.0.0/16"]'),
        addresses=False,
    )
    try:
        hub.start()
        for c in clients:
            c.start()
        got = {c.name: _wait_addr(c) for c in clients}
        assert got["c1"] == "10.252.0.150/24", got  # the reservation
        assert len(set(got.values())) == 3 and all(a.startswith("10.252.0.1") for a in got.values()), got
        ip2 = got["c2"].split("/")[0]
        assert clients[2].ping(ip2, count=2)  # a TCP client reaches a UDP client at its handed-out address
        routes = clients[1].sh("ip", "-4", "route", "show", "10.77.0.0/24", check=True).stdout.decode()
        assert "via 10.252.0.1 dev tl0" in routes, routes
        st = hub.status()
        assert sorted(entry["peer"] for entry in st["leases"]) == ["c1", "c2", "c3"]
        saved = json.loads(leases.read_text())["leases"]
        assert len(saved) == 3
        hub.stop()
        for c in clients:
            c.stop()
        hub.start()  # restart everything: each client gets the same address again
        for c in clients:
            c.start()
        assert {c.name: _wait_addr(c) for c in clients} == got
    finally:
        stop_all(*clients, hub)
