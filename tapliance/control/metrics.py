"""Prometheus metrics: the text exposition of one status snapshot, through ``prometheus_client``.

Nothing is counted per packet on the metrics' behalf: a scrape takes the same snapshot as
``tapliance status --json`` and ``/api/status`` (the core's own counters, read at that moment) and turns
it into metric families. ``METRICS`` is the one list of names, types and meanings; docs/metrics.md is
generated from it and a test keeps the two equal. Names follow Prometheus conventions: the
``tapliance_`` prefix, ``_total`` on counters (added by the client library), base units (bytes,
seconds).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tapliance import __version__
from tapliance.proto.drops import Drop

# (name without tapliance_ and without _total, "counter" | "gauge", labels, help)
METRICS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("info", "gauge", ("interface", "version", "public_key"), "1, labelled with what this daemon is"),
    ("uptime_seconds", "gauge", (), "seconds since the daemon started"),
    ("peer_up", "gauge", ("peer", "suite"), "1 if the peer's session is up (handshake done / traffic heard), else 0"),
    ("peer_state", "gauge", ("peer", "state"), "1 for the peer's current state: idle, handshaking, up or down"),
    ("peer_receive_bytes", "counter", ("peer", "suite"), "bytes of frames received from the peer"),
    ("peer_transmit_bytes", "counter", ("peer", "suite"), "bytes of frames sent to the peer"),
    ("peer_receive_frames", "counter", ("peer", "suite"), "frames received from the peer"),
    ("peer_transmit_frames", "counter", ("peer", "suite"), "frames sent to the peer"),
    ("peer_handshakes", "counter", ("peer",), "completed handshakes (native peers)"),
    ("peer_last_handshake_age_seconds", "gauge", ("peer",), "seconds since the last completed handshake"),
    ("peer_handshake_rtt_seconds", "gauge", ("peer",), "round trip of our last initiation and its response"),
    ("peer_last_receive_age_seconds", "gauge", ("peer",), "seconds since the last authenticated datagram"),
    ("peer_endpoint_changes", "counter", ("peer",), "times the peer's address was learnt or moved (roaming)"),
    ("otp_pad_remaining_bytes", "gauge", ("peer", "direction"), "otp suite: pad bytes left to send / to receive"),
    ("peer_tcp_rtt_seconds", "gauge", ("peer",), "TCP peers: round trip of the last echo request"),
    ("peer_tcp_queued_frames", "gauge", ("peer",), "TCP peers: frames waiting in the connection's send queue"),
    ("peer_tcp_queue_drops", "counter", ("peer",), "TCP peers: frames dropped from the head of a full send queue"),
    ("peer_carrier", "gauge", ("peer", "carrier"), 'transport "auto" peers: 1 for the carrier in use (udp or tcp)'),
    ("drops", "counter", ("reason",), "datagrams, frames or messages not accepted, by reason (docs/protocol.md)"),
    ("reassembly_pending_frames", "gauge", (), "fragmented frames waiting for their other fragments"),
    (
        "reassembly_salvaged_segments",
        "counter",
        (),
        "TCP/UDP segments delivered out of super-frames that lost a datagram",
    ),
    ("mac_table_entries", "gauge", (), "MAC addresses the hub's switch has learnt"),
    ("mac_flaps", "counter", (), "times a learnt MAC address moved from one port to another"),
    ("udp_gro_receives", "counter", ("listen",), "UDP receives that returned more than one datagram (GRO)"),
    ("udp_gro_datagrams", "counter", ("listen",), "datagrams that arrived in those receives"),
    ("udp_gso_sends", "counter", ("listen",), "UDP sends of more than one datagram (GSO)"),
    ("udp_gso_datagrams", "counter", ("listen",), "datagrams sent in those sends"),
    ("tcp_connections", "gauge", ("listen",), "TCP connections open (accepted and dialled)"),
    ("tcp_accepted", "counter", ("listen",), "TCP connections accepted by the listener"),
    ("tcp_shared", "counter", ("listen",), "port sharing: connections passed to the backend"),
)
_KIND = {m[0]: m for m in METRICS}
STATES = ("idle", "handshaking", "up", "down")


def _family(name: str) -> CounterMetricFamily | GaugeMetricFamily:
    _, kind, labels, doc = _KIND[name]
    cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
    return cls(f"tapliance_{name}", doc, labels=list(labels))


class SnapshotCollector(Collector):
    """Turns what ``snapshot()`` returns into metric families at each scrape."""

    def __init__(self, snapshot: Any) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot()
        fam = {name: _family(name) for name in _KIND}
        fam["info"].add_metric([str(s.get("interface")), __version__, str(s.get("public_key") or "")], 1)
        fam["uptime_seconds"].add_metric([], float(s.get("uptime", 0)))
        for p in s.get("peers", []):
            _peer(fam, p, str(s.get("suite") or ""))
        drops = s.get("drops", {})
        for d in Drop:
            fam["drops"].add_metric([d.value], drops.get(d.value, 0))
        fam["reassembly_pending_frames"].add_metric([], s.get("reassembly_pending", 0))
        fam["reassembly_salvaged_segments"].add_metric([], s.get("reassembly_salvaged", 0))
        fam["mac_table_entries"].add_metric([], s.get("mac_table", 0))
        fam["mac_flaps"].add_metric([], s.get("mac_flaps", 0))
        for t in s.get("transports", []):
            if t.get("transport") == "tcp":
                where = str(t.get("listen") or "client")
                fam["tcp_connections"].add_metric([where], t["connections"])
                fam["tcp_accepted"].add_metric([where], t["accepted"])
                fam["tcp_shared"].add_metric([where], t.get("shared_total", 0))
                continue
            for key in ("gro_receives", "gro_datagrams", "gso_sends", "gso_datagrams"):
                fam[f"udp_{key}"].add_metric([t["listen"]], t[key])
        yield from fam.values()


def _peer(fam: dict[str, CounterMetricFamily | GaugeMetricFamily], p: dict[str, Any], native_suite: str) -> None:
    name, suite = p["name"], p.get("suite") or native_suite
    fam["peer_up"].add_metric([name, suite], 1 if p["state"] == "up" else 0)
    for st in STATES:
        fam["peer_state"].add_metric([name, st], 1 if p["state"] == st else 0)
    for key, metric in (
        ("rx_bytes", "peer_receive_bytes"),
        ("tx_bytes", "peer_transmit_bytes"),
        ("rx_frames", "peer_receive_frames"),
        ("tx_frames", "peer_transmit_frames"),
    ):
        fam[metric].add_metric([name, suite], p[key])
    if "handshakes" in p:
        fam["peer_handshakes"].add_metric([name], p["handshakes"])
    for key, metric in (
        ("last_handshake_ago", "peer_last_handshake_age_seconds"),
        ("handshake_rtt", "peer_handshake_rtt_seconds"),
        ("last_received_ago", "peer_last_receive_age_seconds"),
    ):
        if p.get(key) is not None:
            fam[metric].add_metric([name], float(p[key]))
    fam["peer_endpoint_changes"].add_metric([name], p.get("endpoint_changes", 0))
    if p.get("transport") in ("tcp", "auto"):
        if p.get("rtt") is not None:
            fam["peer_tcp_rtt_seconds"].add_metric([name], p["rtt"])
        fam["peer_tcp_queued_frames"].add_metric([name], p.get("queued_frames", 0))
        fam["peer_tcp_queue_drops"].add_metric([name], p.get("queue_drops", 0))
    if p.get("transport") == "auto":
        for carrier in ("udp", "tcp"):
            fam["peer_carrier"].add_metric([name, carrier], 1 if p.get("carrier") == carrier else 0)
    if "pad_send_left" in p:
        fam["otp_pad_remaining_bytes"].add_metric([name, "send"], p["pad_send_left"])
        fam["otp_pad_remaining_bytes"].add_metric([name, "receive"], p["pad_receive_left"])


def exposition(snapshot: Any) -> bytes:
    """The text exposition of one snapshot (``snapshot`` is called once)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)


def markdown() -> str:
    """The metrics table of docs/metrics.md."""
    rows = ["| metric | type | labels | meaning |", "|--------|------|--------|---------|"]
    for name, kind, labels, doc in METRICS:
        full = f"tapliance_{name}" + ("_total" if kind == "counter" else "")
        rows.append(f"| `{full}` | {kind} | {', '.join(f'`{x}`' for x in labels) or '-'} | {doc} |")
    return "\n".join(rows)
