"""The TCP transport between real daemons: QuickTun TCP protocol flows carrying a checked 32 MiB transfer,
handed-out addresses, refusals that let nothing through, and healing after kill -9."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns.legacy import transfer
from tests.netns.tcplab import TCP_PORT, Node, password_file, star, stop_all, tcp_peer

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
    (peer,) = client.status()["peers"]
    assert peer["transport"] == "tcp" and peer["state"] == "up" and peer["encrypted"] is True
    (speer,) = server.status()["peers"]
    assert speer["state"] == "up" and speer["endpoint"].startswith("10.251.1.2:")
    assert "TCP tunnel up" in client.log.read_text()


def test_public_with_password_carries_32_mib_and_hands_out_an_address(pair: tuple[Node, Node], tmp_path: Path) -> None:
    server, client = pair
    pw = password_file(tmp_path, "pw", "the shared secret of s")
    server.write(
        tcp_peer(
            "guest", extra=f'require_password = true\npassword_file = "{pw}"\nassign_addresses = ["10.253.0.2/24"]'
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
            extra=f'tcp_anonymous = true\npassword_file = "{pw}"',
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
