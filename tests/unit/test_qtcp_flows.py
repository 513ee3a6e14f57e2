"""Every example control flow of the QuickTun TCP specification, through a client and a server over a fake
stream: the tunnel starts on both ends, frames cross both ways, and the commands each end heard follow the
spec's order. Each flow also runs with the stream cut at every byte boundary (pieces of 1 byte)."""

from __future__ import annotations

import pytest

from tapliance.proto.qtcp import wire as Q
from tapliance.proto.qtcp.policy import Policy
from tests.unit.qtcp_pair import Stream

PW = b"correct horse"
FRAME = bytes.fromhex("02aabbccddee02112233445508004500") + bytes(50)
BACK = bytes.fromhex("0211223344550200aabbccddee0800ff") + bytes(50)
SETUP = {Q.TUNNEL_OPTIONS, Q.PROTOCOL_ID, Q.ECHO_REQUEST, Q.ECHO_RESPONSE}

FLOWS = {
    # name: (client policy, server policy, server knows the client's key, commands the server hears,
    #        commands the client hears), in the spec's order
    "raw": (Policy(encryption="off"), Policy(encryption="off"), False, [Q.START_TUNNEL], [Q.START_TUNNEL]),
    "password": (
        Policy(encryption="off", password=PW, password_in_clear=True),
        Policy(encryption="off", password=PW, require_password=True, password_in_clear=True),
        False,
        [Q.START_TUNNEL, Q.ACK_PASSWORD],
        [Q.START_PASSWORD, Q.START_TUNNEL],
    ),
    "mutual password": (
        Policy(encryption="off", password=PW, require_password=True, password_in_clear=True),
        Policy(encryption="off", password=PW, require_password=True, password_in_clear=True),
        False,
        [Q.START_PASSWORD, Q.ACK_PASSWORD, Q.START_TUNNEL],
        [Q.START_PASSWORD, Q.ACK_PASSWORD, Q.START_TUNNEL],
    ),
    "encrypted public": (
        Policy(anonymous=True),
        Policy(public=True),
        False,
        [Q.ACK_CRYPTO, Q.BEGIN_KEY_UPDATE, Q.ACK_KEY_UPDATE, Q.START_TUNNEL],
        [Q.START_CRYPTO, Q.ACK_KEY_UPDATE, Q.BEGIN_KEY_UPDATE, Q.START_TUNNEL],
    ),
    "encrypted public with password": (
        Policy(anonymous=True, password=PW),
        Policy(password=PW, require_password=True),
        False,
        [Q.ACK_CRYPTO, Q.BEGIN_KEY_UPDATE, Q.ACK_PASSWORD, Q.ACK_KEY_UPDATE, Q.START_TUNNEL],
        [Q.START_CRYPTO, Q.ACK_KEY_UPDATE, Q.START_PASSWORD, Q.BEGIN_KEY_UPDATE, Q.START_TUNNEL],
    ),
    "encrypted authenticated": (
        Policy(),
        Policy(),
        True,
        [Q.START_CRYPTO, Q.ACK_CRYPTO, Q.BEGIN_KEY_UPDATE, Q.ACK_KEY_UPDATE, Q.START_TUNNEL],
        [Q.START_CRYPTO, Q.ACK_CRYPTO, Q.BEGIN_KEY_UPDATE, Q.ACK_KEY_UPDATE, Q.START_TUNNEL],
    ),
    "cryptographically authenticated unencrypted": (
        Policy(encryption="auth-only"),
        Policy(encryption="auth-only"),
        True,
        [Q.START_CRYPTO, Q.ACK_CRYPTO, Q.DISABLE_ENCRYPTION, Q.START_TUNNEL],
        [Q.START_CRYPTO, Q.ACK_CRYPTO, Q.ACK_DISABLE_ENCRYPTION, Q.START_TUNNEL],
    ),
}


def run(name: str, cut: int = 0) -> Stream:
    client, server, knows, _, _ = FLOWS[name]
    s = Stream(client, server, server_knows_key=knows, cut=cut)
    s.pump()
    assert not s.closed, (name, s.client.proto.ports[0].reason, s.server.proto.ports[0].reason)
    return s


def heard(s: Stream, end: str) -> list[int]:
    """The commands an end heard, in order, without start tunnel data (each end sends that when its own
    policy is met, which may be later than in the spec's examples, whose ends "require no more
    negotiation") and without the setup and echo commands the examples leave out."""
    proto = (s.server if end == "server" else s.client).proto
    (c,) = proto.conns.values()
    assert Q.START_TUNNEL in c.heard
    return [code for code in c.heard if code not in SETUP and code != Q.START_TUNNEL]


def carries(s: Stream) -> None:
    s.client.node.on_frame(FRAME, s.now)
    s.pump()
    assert s.server.tap == [FRAME]
    s.server.node.on_frame(BACK, s.now)
    s.pump()
    assert s.client.tap == [BACK]


@pytest.mark.parametrize("name", FLOWS)
def test_flow_starts_the_tunnel_in_the_spec_order(name: str) -> None:
    s = run(name)
    for proto in (s.client.proto, s.server.proto):
        (c,) = proto.conns.values()
        assert c.enabled, (name, proto.ports[0].reason)
    assert heard(s, "server") == [c for c in FLOWS[name][3] if c != Q.START_TUNNEL]
    assert heard(s, "client") == [c for c in FLOWS[name][4] if c != Q.START_TUNNEL]
    carries(s)


@pytest.mark.parametrize("name", FLOWS)
def test_flow_with_the_stream_cut_at_every_byte(name: str) -> None:
    s = run(name, cut=1)
    assert heard(s, "server") == [c for c in FLOWS[name][3] if c != Q.START_TUNNEL]
    carries(s)


@pytest.mark.parametrize("name", ["encrypted authenticated", "encrypted public", "encrypted public with password"])
def test_encrypted_flows_use_session_keys_both_ways(name: str) -> None:
    s = run(name)
    (cc,) = s.client.proto.conns.values()
    (sc,) = s.server.proto.conns.values()
    assert cc.send.local is not cc.static and sc.send.local is not sc.static  # session keys (PFS)
    assert cc.send.remote == sc.send.local.public and sc.send.remote == cc.send.local.public
    assert cc.secure() and sc.secure()


def test_later_rekey_keeps_the_tunnel_carrying() -> None:
    s = run("encrypted authenticated")
    (cc,) = s.client.proto.conns.values()
    first = cc.send.local
    s.advance(cc.policy.rekey_after + 2)  # type: ignore[union-attr]
    assert cc.send.local is not first and not s.closed
    carries(s)


def test_padding_puts_every_encrypted_message_in_a_size_bucket_and_batches_small_frames() -> None:
    from tapliance.proto.qtcp.session import BUCKETS
    from tests.unit.qtcp_vectors import _messages

    s = Stream(Policy(padding=True), Policy(padding=True), server_knows_key=True)
    s.pump()
    start = len(b"".join(s.client.sent))
    for i in range(5):
        s.client.node.on_frame(FRAME[:-1] + bytes([i]), s.now)
    big = FRAME[:14] + bytes(1400)
    s.client.node.on_frame(big, s.now)
    s.pump()
    sent = _messages([b"".join(s.client.sent)[start:]])
    assert sent and all(control and len(m) - 2 in BUCKETS for control, m in sent), [len(m) for _, m in sent]
    assert len(s.server.tap) == 6 and s.server.tap[-1] == big
    assert len(sent) < 6  # the five small frames left batched


def test_a_super_frame_over_the_15_bit_length_is_segmented() -> None:
    from tapliance.proto import offload
    from tapliance.proto.qtcp.session import Connection

    s = Stream(Policy(vnet=True), Policy(vnet=True), server_knows_key=True)
    s.pump()
    (c,) = s.client.proto.conns.values()
    assert c.vnet and isinstance(c, Connection)
    # a 40000-byte TCP/IPv4 TSO super-frame (virtio-net header: GSO TCPv4, MSS 1448)
    payload = bytes(40000 - 14 - 20 - 32)
    ip = bytearray(20)
    ip[0], ip[9] = 0x45, 6
    ip[2:4] = (20 + 32 + len(payload)).to_bytes(2, "big")
    tcp = bytearray(32)
    tcp[12] = 8 << 4
    hdr = (
        bytes([1, 1])
        + (14 + 20 + 32).to_bytes(2, "little")
        + (1448).to_bytes(2, "little")
        + (14 + 20).to_bytes(2, "little")
        + (16).to_bytes(2, "little")
    )
    frame = hdr + FRAME[:12] + b"\x08\x00" + bytes(ip) + bytes(tcp) + payload
    port = s.client.proto.ports[0]
    port.vnet = True
    s.client.proto.send(port, frame, 1, s.now)
    s.pump()
    assert len(s.server.tap) > 1 and all(len(f) <= offload.HDR_LEN + 14 + 1500 for f in s.server.tap)
