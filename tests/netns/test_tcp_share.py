"""TCP 443-style port sharing, ``auto`` fallback and a hub with UDP and TCP clients, between real daemons."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns.tcplab import TCP_PORT, UDP_PORT, Node, star, stop_all, tcp_peer

PROXY_ECHO = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); print("listening", flush=True)
while True:
    c, _ = s.accept()
    head = c.recv(16)
    if not head:  # the test's own probe of the port
        c.close()
        continue
    assert head[:12] == b"\r\n\r\n\x00\r\nQUIT\n", head
    body = c.recv(int.from_bytes(head[14:16], "big"))
    src = socket.inet_ntoa(body[0:4]) + ":" + str(int.from_bytes(body[8:10], "big"))
    rest = c.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\r\n\r\nclient " + src.encode() + b" said " + rest.split(b"\r\n")[0])
    c.close()
"""


@pytest.fixture
def pair(prefix: str, tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    server, (client,) = star(prefix, tmp_path, 1)
    yield server, client
    stop_all(client, server)


def _start_backend(ns: str, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as f:
        return subprocess.Popen(["ip", "netns", "exec", ns, *args], stdout=f, stderr=f)


def _wait_port(node: Node, port: int) -> None:
    for _ in range(100):
        if node.sh("bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}").returncode == 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} in {node.ns}")


def test_port_sharing_passes_sshd_through_while_the_tunnel_works(pair: tuple[Node, Node], tmp_path: Path) -> None:
    server, client = pair
    hostkey = tmp_path / "hostkey"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey)], check=True)
    argv = ["/usr/sbin/sshd", "-D", "-e", "-f", "/dev/null", "-h", str(hostkey)]
    argv += ["-o", "ListenAddress=127.0.0.1:2222", "-o", "PidFile=none"]
    sshd = _start_backend(server.ns, argv, tmp_path / "sshd.log")
    try:
        _wait_port(server, 2222)
        server.write(
            tcp_peer("c1", key=client.public), f'tcp_listen = ":{TCP_PORT}"\ntcp_share_backend = "127.0.0.1:2222"'
        )
        client.write(tcp_peer("s", key=server.public, endpoint=f"10.251.1.1:{TCP_PORT}"))
        server.start()
        client.start()
        client.wait_ping(server.ip, 20, server)
        # a real SSH client (key exchange included) reaches sshd through the tunnel's port
        scan = client.sh("ssh-keyscan", "-T", "5", "-t", "ed25519", "-p", str(TCP_PORT), "10.251.1.1", timeout=20)
        assert hostkey.with_suffix(".pub").read_text().split()[1] in scan.stdout.decode(), scan
        assert client.ping(server.ip, count=3)
        st = server.status()
        shared = next(t for t in st["transports"] if t.get("transport") == "tcp")
        assert shared["shared_total"] >= 1 and st["peers"][0]["state"] == "up"
    finally:
        sshd.terminate()
        sshd.wait(timeout=10)


def test_port_sharing_sends_a_proxy_v2_header_with_the_real_client_address(
    pair: tuple[Node, Node], tmp_path: Path
) -> None:
    server, client = pair
    backend = _start_backend(server.ns, [sys.executable, "-c", PROXY_ECHO, "8080"], tmp_path / "backend.log")
    try:
        _wait_port(server, 8080)
        server.write(
            tcp_peer("c1", key=client.public),
            f'tcp_listen = ":{TCP_PORT}"\ntcp_share_backend = "127.0.0.1:8080"\ntcp_proxy_protocol = true',
        )
        client.write(tcp_peer("s", key=server.public, endpoint=f"10.251.1.1:{TCP_PORT}"))
        server.start()
        client.start()
        client.wait_ping(server.ip, 20, server)
        r = client.sh("curl", "-s", "--max-time", "5", f"http://10.251.1.1:{TCP_PORT}/hello", timeout=20)
        body = r.stdout.decode()
        assert body.startswith("client 10.251.1.2:") and "GET /hello HTTP/1.1" in body, (r, body)
        assert client.ping(server.ip, count=2)
    finally:
        backend.terminate()
        backend.wait(timeout=10)


def _nft_drop_udp(node: Node, on: bool) -> None:
    if on:
        node.sh(
            "nft",
            "add table inet tltest; add chain inet tltest in { type filter hook input priority 0; }; "
            f"add rule inet tltest in udp dport {UDP_PORT} drop",
            check=True,
        )
    else:
        node.sh("nft", "delete table inet tltest", check=True)


def _carrier(node: Node) -> str | None:
    return node.status()["peers"][0].get("carrier")


def _wait_carrier(node: Node, want: str, timeout: float, *others: Node) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if _carrier(node) == want and node.ping(others[0].ip if others else "", 1):
            return time.monotonic() - t0
        time.sleep(0.3)
    raise AssertionError(
        f"{node.name}: carrier {_carrier(node)}, not {want}, after {timeout} s\n"
        + "\n".join(n.log.read_text()[-2000:] for n in (node, *others))
    )


def test_auto_falls_back_to_tcp_when_udp_is_dropped_and_returns(pair: tuple[Node, Node]) -> None:
    server, client = pair
    server.write(tcp_peer("c1", key=client.public, transport="auto"), f'tcp_listen = ":{TCP_PORT}"')
    client.write(
        tcp_peer(
            "s",
            key=server.public,
            endpoint=f"10.251.1.1:{UDP_PORT}",
            transport="auto",
            extra=f'tcp_endpoint = "10.251.1.1:{TCP_PORT}"',
        )
    )
    _nft_drop_udp(server, True)  # UDP blocked from the start
    server.start()
    client.start()
    took = _wait_carrier(client, "tcp", 20, server)
    assert took < 15
    assert "carried over TCP" in client.log.read_text()
    _nft_drop_udp(server, False)
    _wait_carrier(client, "udp", 20, server)
    assert _carrier(server) == "udp"
    # blocked again in the middle of traffic: over TCP again within seconds, a ping stream barely notices
    pinger = subprocess.Popen(
        ["ip", "netns", "exec", client.ns, "ping", "-i", "0.2", "-c", "75", "-W", "1", server.ip],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)
    _nft_drop_udp(server, True)
    out, _ = pinger.communicate(timeout=60)
    assert _carrier(client) == "tcp"
    received = int(out.split(" received")[0].rsplit(" ", 1)[1])
    assert received >= 75 - 40, out  # at most ~8 s without replies (0.2 s apart)


def test_hub_serves_udp_and_tcp_clients_in_one_switch(prefix: str, tmp_path: Path) -> None:
    server, (udp, tcp) = star(prefix, tmp_path, 2)
    try:
        server.write(
            f'[[peer]]\nname = "c1"\npublic_key = "{udp.public}"\n' + tcp_peer("c2", key=tcp.public),
            f'tcp_listen = ":{TCP_PORT}"',
        )
        udp.write(f'[[peer]]\nname = "s"\npublic_key = "{server.public}"\nendpoint = "10.251.1.1:{UDP_PORT}"\n')
        tcp.write(tcp_peer("s", key=server.public, endpoint=f"10.251.2.1:{TCP_PORT}"))
        for n in (server, udp, tcp):
            n.start()
        udp.wait_ping(tcp.ip, 20, server, tcp)  # client to client, through the hub's switch
        assert tcp.ping(udp.ip, count=3) and tcp.ping(server.ip)
        st = server.status()
        assert st["hub"] is True
        assert {p["name"]: p["state"] for p in st["peers"]} == {"c1": "up", "c2": "up"}
    finally:
        stop_all(udp, tcp, server)


def test_tcp_listener_refuses_a_flood_of_junk_without_harm(pair: tuple[Node, Node]) -> None:
    server, client = pair
    server.write(tcp_peer("c1", key=client.public), f'tcp_listen = ":{TCP_PORT}"')
    client.write(tcp_peer("s", key=server.public, endpoint=f"10.251.1.1:{TCP_PORT}"))
    server.start()
    client.start()
    client.wait_ping(server.ip, 20, server)
    junk = [b"\xff\xff" + os.urandom(100), b"\x80\x08QUICKTUN" + b"\x80\x02\x0e\xff", b"\x00", os.urandom(3000)]
    script = (
        f"import socket,sys\nfor j in sys.argv[1:]:\n s=socket.create_connection(('10.251.1.1',{TCP_PORT}));"
        "s.sendall(bytes.fromhex(j));s.settimeout(2)\n try: s.recv(100)\n except Exception: pass\n s.close()"
    )
    client.sh(sys.executable, "-c", script, *(j.hex() for j in junk), check=True)
    assert client.ping(server.ip, count=3)
    assert server.proc is not None and server.proc.poll() is None
    drops = server.status()["drops"]
    assert drops.get("tcp_bad_message", 0) + drops.get("tcp_decrypt", 0) >= 1, drops
