"""A hub with 20 real client daemons: distinct leases (and a reservation), isolation, a MAC-flooding client
capped while the others keep working; a reload that adds and removes peers while a transfer between two
unchanged clients runs on with no new handshake."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from tests.netns.tcplab import UDP_PORT, Node, star, stop_all
from tests.netns.test_hub_handout import _wait_addr
from tests.netns.transfer import transfer
from tests.netns.tunnel import TAPLIANCE

FLOOD = r"""
import os, socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("tl0", 0))
for i in range(int(sys.argv[1])):
    s.send(b"\xff" * 6 + b"\x02" + os.urandom(5) + b"\x08\x06" + bytes(46))
"""


def _hub_config(hub: Node, clients: list[Node], tmp: Path, extra: dict[str, str]) -> None:
    peers = "".join(f'[[peer]]\nname = "{c.name}"\npublic_key = "{c.public}"\nmax_macs = 64\n{extra.get(c.name, "")}\n'
                    for c in clients)  # fmt: skip
    pool = f'[pool]\nipv4 = "10.252.0.100-10.252.0.199"\nleases_file = "{tmp / "leases.json"}"\n'
    hub.write(peers + pool)


def _client_config(c: Node, hub: Node, i: int) -> None:
    c.write(
        f'[[peer]]\nname = "hub"\npublic_key = "{hub.public}"\nendpoint = "10.251.{i}.1:{UDP_PORT}"\n', addresses=False
    )


def _up(hub: Node, clients: list[Node], tmp: Path, extra: dict[str, str], known: list[Node] | None = None) -> None:
    """The hub knows ``known`` (default: every client); every client is configured for the hub; all start."""
    _hub_config(hub, clients if known is None else known, tmp, extra)
    for i, c in enumerate(clients, 1):
        _client_config(c, hub, i)
    hub.start()
    for c in clients:
        c.start()


def test_twenty_clients_leases_isolation_and_a_mac_flood(prefix: str, tmp_path: Path) -> None:
    hub, clients = star(prefix, tmp_path, 20)
    extra = {"c1": 'reserve = ["10.252.0.111"]', "c19": "client_to_client = false", "c20": "client_to_client = false"}
    try:
        _up(hub, clients, tmp_path, extra)
        got = {c.name: _wait_addr(c, 40) for c in clients}
        assert got["c1"] == "10.252.0.111/24"
        assert len(set(got.values())) == 20, got
        ip = {n: a.split("/")[0] for n, a in got.items()}
        assert clients[1].ping(ip["c3"], count=2)  # client to client through the hub
        assert clients[18].ping(hub.ip) and clients[19].ping(hub.ip)  # isolated ones reach the hub side
        assert not clients[18].ping(ip["c20"], count=2)  # but not each other
        assert not clients[0].ping(ip["c19"], count=1)
        # c17 sprays 5000 random source MACs: only its own 64 are learnt, nobody else loses theirs
        clients[16].sh(sys.executable, "-c", FLOOD, "5000", check=True)
        time.sleep(1)
        st = hub.status()
        assert st["drops"].get("mac_limit", 0) > 1000 and st["mac_table"] < 64 + 25 * 3, (st["mac_table"], st["drops"])
        assert clients[1].ping(ip["c3"], count=2) and clients[4].ping(ip["c6"], count=2)
        assert len(st["leases"]) == 20
    finally:
        stop_all(*clients, hub)


def test_reload_adds_and_removes_peers_without_touching_the_others(prefix: str, tmp_path: Path) -> None:
    hub, clients = star(prefix, tmp_path, 4)
    c1, c2, c3, c4 = clients
    try:
        _up(hub, clients, tmp_path, {}, known=[c1, c2, c3])
        a1, a2 = _wait_addr(c1).split("/")[0], _wait_addr(c2).split("/")[0]
        _wait_addr(c3)
        before = {p["name"]: p["handshakes"] for p in hub.status()["peers"]}
        result: list[float] = []

        def run_transfer() -> None:
            result.append(transfer(c1.ns, c2.ns, a2, 48 << 20))

        th = threading.Thread(target=run_transfer)
        th.start()
        time.sleep(0.3)
        # add c4 with `tapliance peer add`, remove c3 from the main config, and reload: while the transfer runs
        r = hub.sh(*TAPLIANCE, "peer", "add", "c4", c4.public, "-c", str(hub.config), check=False)
        assert r.returncode == 0, r.stderr.decode()
        assert "added: c4" in r.stdout.decode()
        text = hub.config.read_text()
        hub.config.write_text(text.replace(f'[[peer]]\nname = "c3"\npublic_key = "{c3.public}"\nmax_macs = 64\n\n', ""))
        r = hub.sh(*TAPLIANCE, "reload", "-c", str(hub.config), check=False)
        assert r.returncode == 0 and "removed: c3" in r.stdout.decode(), (r.stdout, r.stderr)
        th.join(timeout=120)
        assert result, "the transfer between the unchanged clients failed"
        after = {p["name"]: p["handshakes"] for p in hub.status()["peers"]}
        assert after["c1"] == before["c1"] and after["c2"] == before["c2"], (before, after)
        assert "c3" not in after and "c4" in after
        assert _wait_addr(c4) and c4.ping(a1, count=2)
        assert not c3.ping(hub.ip, count=2)
        # a bad peer file is refused in one line and changes nothing
        (hub.config.parent / "peers.d" / "bad.toml").write_text('[[peer]]\nname = "x"\npublic_key = "nope"\n')
        r = hub.sh(*TAPLIANCE, "reload", "-c", str(hub.config), check=False)
        assert r.returncode == 2 and "bad.toml: peer[0].public_key" in r.stderr.decode(), r.stderr
        assert c4.ping(a1, count=1)
    finally:
        stop_all(*clients, hub)
