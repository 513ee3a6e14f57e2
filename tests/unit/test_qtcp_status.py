"""A TCP peer in status, the status table, the diagnosis line and the metrics."""

from __future__ import annotations

from tapliance.control import client, metrics, watch
from tapliance.control.status import StatusSide
from tapliance.proto.qtcp.policy import Policy
from tests.unit.qtcp_pair import Stream


def _snapshot(s: Stream, end: str = "client") -> dict[str, object]:
    node = (s.client if end == "client" else s.server).node
    snap = node.status(s.now)
    snap.update(interface="tl0", uptime=5.0, listen="0.0.0.0:9123", pid=1)
    snap["transports"] = [
        {
            "transport": "tcp",
            "listen": "0.0.0.0:443",
            "connections": 1,
            "accepted": 3,
            "refused": 0,
            "dialled": 0,
            "shared_total": 2,
        }
    ]
    StatusSide().enrich(snap)
    return snap


def test_a_tcp_peer_in_status_table_metrics_and_diagnosis() -> None:
    s = Stream(Policy(keepalive=1), Policy(keepalive=1), server_knows_key=True)
    s.pump()
    s.advance(2)
    snap = _snapshot(s)
    (peer,) = snap["peers"]  # type: ignore[misc]
    assert peer["transport"] == "tcp" and peer["state"] == "up" and peer["rtt"] is not None
    text = client.render(snap, detail=True)
    assert "server" in text and "up" in text
    assert "server" in watch.table(snap, None, 1.0)
    exposition = metrics.exposition(lambda: snap).decode()
    assert 'tapliance_peer_tcp_rtt_seconds{peer="server"}' in exposition
    assert 'tapliance_peer_tcp_queue_drops_total{peer="server"} 0.0' in exposition
    assert 'tapliance_tcp_shared_total{listen="0.0.0.0:443"} 2.0' in exposition


def test_a_refused_tcp_peer_says_why() -> None:
    s = Stream(Policy(), Policy(encryption="off"), server_knows_key=False)
    s.pump()
    snap = _snapshot(s)
    (peer,) = snap["peers"]  # type: ignore[misc]
    assert peer["state"] != "up"
    assert peer["reason"] and "Traceback" not in str(peer["reason"])
