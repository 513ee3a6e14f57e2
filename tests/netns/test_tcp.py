"""The TCP transport between real daemons: QuickTun TCP protocol flows carrying a checked 32 MiB transfer,
handed-out addresses, refusals that let nothing through, and healing after kill -9."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns.tcplab import TCP_PORT, Node, password_file, star, stop_all, tcp_peer
from tests.netns.transfer import transfer

MIB = 1 << 20


@pytest.fixture
def pair(prefix: str, tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    server, (client,) = star(prefix, tmp_path, 1)
    yield server, client
    stop_all(client, server)


def _listen(server: Node) -> str:
    return f'tcp_listen = ":{TCP_PORT}"'


def test_encrypted_authenticated_carries_ping_and_a_checked_32_mib(pair: tuple[Node, Node]) -> None:
    server, client = pair
    server.write(tcp_peer("c1", key=client.public), _listen(server))
    client.write(tcp_peer("s", key=server.public, endpoint=f"10.251.1.1:{TCP_PORT}"))
    server.start()
    client.start()
    client.wait_ping(server.ip, 20, server)
    transfer(client.ns, server.ns, server.ip, 32 * MIB)
    transfer(server.ns, client.ns, client.ip, 4 * MIB, port=5002)
    time.sleep(2.5)  # one keepalive interval: an echo has measured the round trip
    (peer,) = client.status()["peers"]
    assert peer["transport"] == "tcp" and peer["state"] == "up" and peer["encrypted"] is True
    assert peer["rtt"] is not None and 0 < peer["rtt"] < 0.5, peer
    (speer,) = server.status()["peers"]
    assert speer["state"] == "up" and speer["endpoint"].startswith("10.251.1.2:")
    assert "TCP tunnel up" in client.log.read_text()


def test_public_with_password_carries_32_mib_and_hands_out_an_address(pair: tuple[Node, Node], tmp_path: Path) -> None:
    server, client = pair
    pw = password_file(tmp_path, "pw", "the shared secret of s")
    server.write(
        tcp_peer(
            "guest",
            extra=f'require_password = true\npassword_file = "{pw}"\nassign_addresses = ["10.253.0.2/24"]\n'
            'announce_routes = ["10.254.1.0/24", "10.99.0.0/16"]',
        ),
        _listen(server) + "\n",
    )
    server.config.write_text(
        server.config.read_text().replace(
            'addresses = ["10.252.0.1/24"]', 'addresses = ["10.252.0.1/24", "10.253.0.1/24"]'
        )
    )
    client.write(
        tcp_peer(
            "s",
            key=server.public,
            endpoint=f"10.251.1.1:{TCP_PORT}",
            extra=f'tcp_anonymous = true\npassword_file = "{pw}"\naccept_routes = ["10.254.0.0/16"]',
        ),
        addresses=False,
    )
    server.start()
    client.start()
    client.wait_ping("10.253.0.1", 20, server)  # over the address the server handed out
    addrs = client.sh("ip", "-o", "addr", "show", "dev", "tl0", check=True).stdout.decode()
    assert "10.253.0.2/24" in addrs
    transfer(client.ns, server.ns, "10.253.0.1", 32 * MIB)
    assert "address 10.253.0.2/24 from peer s" in client.log.read_text()
    assert "password accepted" in server.log.read_text()
    # routing updates: the one inside accept_routes is installed via the TAP, the other counted and ignored
    routes = client.sh("ip", "-4", "route", "show", "dev", "tl0", check=True).stdout.decode()
    assert "10.254.1.0/24" in routes and "10.99.0.0/16" not in routes, routes
    assert client.status()["drops"].get("route_refused") == 1


def test_wrong_password_or_unknown_key_gets_no_traffic_through(pair: tuple[Node, Node], tmp_path: Path) -> None:
    server, client = pair
    good, bad = password_file(tmp_path, "good", "right one"), password_file(tmp_path, "bad", "wrong one")
    server.write(tcp_peer("guest", extra=f'require_password = true\npassword_file = "{good}"'), _listen(server))
    client.write(
        tcp_peer(
            "s",
            key=server.public,
            endpoint=f"10.251.1.1:{TCP_PORT}",
            extra=f'tcp_anonymous = true\npassword_file = "{bad}"',
        )
    )
    server.start()
    client.start()
    time.sleep(3)
    assert not client.ping(server.ip, count=2)
    drops = server.status()["drops"]
    assert drops.get("tcp_password", 0) >= 1, drops
    assert "password wrong from 10.251.1.2" in server.log.read_text()
    client.stop()
    server.stop()
    # a client whose key the server does not know (the server's only peer has another key)
    other = Node("x", server.ns, tmp_path, "", "10.252.0.99/24")
    server.write(tcp_peer("x", key=other.public), _listen(server))
    client.write(tcp_peer("s", key=server.public, endpoint=f"10.251.1.1:{TCP_PORT}"))
    server.start()
    client.start()
    time.sleep(2)
    assert not client.ping(server.ip, count=2)
    assert server.status()["drops"].get("tcp_unknown_key", 0) >= 1


@pytest.mark.parametrize("victim", ["server", "client"])
def test_kill_9_of_either_side_heals_without_an_operator(pair: tuple[Node, Node], victim: str) -> None:
    server, client = pair
    server.write(tcp_peer("c1", key=client.public), _listen(server))
    client.write(tcp_peer("s", key=server.public, endpoint=f"10.251.1.1:{TCP_PORT}"))
    server.start()
    client.start()
    client.wait_ping(server.ip, 20, server)
    node = server if victim == "server" else client
    node.stop(signal.SIGKILL)
    node.start()
    took = client.wait_ping(server.ip, 30, server)
    assert took < 30
    assert client.status()["peers"][0]["state"] == "up"


def test_endpoints_by_dns_name_for_tcp_and_udp_and_a_moved_server_is_found_again(pair: tuple[Node, Node]) -> None:
    """The client names the server in its hosts file (ip netns exec binds /etc/netns/NS/hosts); the server
    then moves to a new address and the name with it: the UDP peer re-resolves while unreachable."""
    server, client = pair
    hosts = Path("/etc/netns") / client.ns / "hosts"
    hosts.parent.mkdir(parents=True, exist_ok=True)
    hosts.write_text("10.251.1.1 vpn.tapliance.test\n")
    server.write(f'[[peer]]\nname = "c1"\npublic_key = "{client.public}"\nkeepalive = 0\n', "")  # silent
    client.write(f'[[peer]]\nname = "s"\npublic_key = "{server.public}"\nendpoint = "vpn.tapliance.test:9123"\n')
    server.start()
    client.start()
    client.wait_ping(server.ip, 20, server)
    assert "resolves to 10.251.1.1:9123" in client.log.read_text()
    client.stop()
    # the server moves; the client starts with the stale name, cannot reach it, and finds it once DNS follows
    server.sh("ip", "addr", "del", "10.251.1.1/24", "dev", "to1", check=True)
    server.sh("ip", "addr", "add", "10.251.1.7/24", "dev", "to1", check=True)
    client.start()
    assert not client.ping(server.ip, count=2)
    hosts.write_text("10.251.1.7 vpn.tapliance.test\n")
    took = client.wait_ping(server.ip, 40, server)
    assert "resolves to 10.251.1.7:9123" in client.log.read_text(), took
    client.stop()
    server.stop()
    # and a TCP peer dials by name
    server.write(tcp_peer("c1", key=client.public), _listen(server))
    client.write(tcp_peer("s", key=server.public, endpoint=f"vpn.tapliance.test:{TCP_PORT}"))
    server.start()
    client.start()
    client.wait_ping(server.ip, 20, server)
