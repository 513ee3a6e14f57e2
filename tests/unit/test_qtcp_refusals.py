"""QuickTun TCP connections that must not start: every refusal closes the connection, is counted under its
reason, and carries no frame."""

from __future__ import annotations

import os

import pytest

from tapliance.proto.qtcp.crypto import KeyPair
from tapliance.proto.qtcp.peer import TcpPeerSpec
from tapliance.proto.qtcp.policy import Policy
from tests.unit.qtcp_pair import Stream

PW = b"correct horse"


def refused(s: Stream, reason: str) -> None:
    s.pump()
    assert s.closed, "the connection should have been closed"
    drops = {**s.client.proto.drops, **s.server.proto.drops}
    assert drops.get(reason), drops
    for proto in (s.client.proto, s.server.proto):
        assert not any(c.enabled for c in proto.conns.values())


def test_unknown_client_key_is_refused() -> None:
    s = Stream(Policy(), Policy(), server_knows_key=True)
    stranger = KeyPair.from_secret(os.urandom(32))
    s.server.proto.ports[0].spec = TcpPeerSpec("client", stranger.public, None, Policy())
    s.server.proto.directory.keyed[0].spec = s.server.proto.ports[0].spec
    refused(s, "tcp_unknown_key")


def test_wrong_password_is_refused_and_counted() -> None:
    s = Stream(
        Policy(anonymous=True, password=b"guess"), Policy(password=PW, require_password=True), server_knows_key=False
    )
    refused(s, "tcp_password")
    assert s.server.proto.directory.failures


def test_repeated_wrong_passwords_from_one_address_are_not_asked_again() -> None:
    s = Stream(
        Policy(anonymous=True, password=b"guess"), Policy(password=PW, require_password=True), server_knows_key=False
    )
    d = s.server.proto.directory
    (c,) = s.server.proto.conns.values()
    for _ in range(5):
        d.password_failed(c)
    refused(s, "tcp_password")
    assert "too many wrong passwords" in s.server.proto.ports[0].reason or not s.server.proto.ports[0].conn
    assert not d.password_allowed(c)
    s.server.proto._now += 61
    assert d.password_allowed(c)


def test_password_is_never_sent_in_the_clear_by_default() -> None:
    s = Stream(
        Policy(encryption="off", password=PW),
        Policy(encryption="off", password=PW, require_password=True, password_in_clear=True),
        server_knows_key=False,
    )
    refused(s, "tcp_policy")
    assert not any(PW in chunk for chunk in s.client.sent)


def test_raw_client_cannot_reach_an_encrypted_server() -> None:
    s = Stream(Policy(encryption="off"), Policy(), server_knows_key=True)
    refused(s, "tcp_policy")


def test_encrypted_client_refuses_to_disable_encryption() -> None:
    s = Stream(Policy(encryption="auth-only"), Policy(), server_knows_key=True)
    refused(s, "tcp_policy")


@pytest.mark.parametrize("offset", [5, 40, -3])
def test_a_flipped_bit_in_an_encrypted_message_closes_the_connection(offset: int) -> None:
    s = Stream(Policy(), Policy(), server_knows_key=True)
    s.pump()
    (c,) = s.client.proto.conns.values()
    assert c.enabled
    s.client.node.on_frame(bytes(14) + b"x" * 100, s.now)
    data = bytearray(s.client.proto.take(c.conn, 1 << 20))
    data[offset] ^= 1
    (sc,) = s.server.proto.conns
    s.server.proto.on_stream(sc, bytes(data), s.now)
    assert s.server.proto.close == [sc]
    assert s.server.proto.drops.get("tcp_decrypt")
