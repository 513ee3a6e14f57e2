"""Noise_IKpsk2 handshake (the WireGuard construction, section 5.4 of the WireGuard paper).

Theory of operation: the initiator knows the responder's static key in advance (IK), so its first
message already carries its own static key encrypted to the responder (identity hiding) and an
encrypted TAI64N timestamp (replay protection of initiations). Ephemeral-ephemeral and
ephemeral-static DH give forward secrecy; the optional pre-shared key is mixed in last (psk2), so a
PSK also protects against a future quantum adversary recording today's traffic.

Costs on the responder for an unauthenticated initiation: mac1 (one keyed BLAKE2s: the cheap check),
then one X25519 and one AEAD open to learn who claims to be calling. The static-static DH is
precomputed per peer. Messages are plain bytes in, bytes/keys out; no I/O, no clock (the timestamp
is a parameter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tapliance.proto.drops import Drop
from tapliance.proto.native import primitives as P
from tapliance.proto.native import wire as W

_C0 = P.hash_(W.CONSTRUCTION)
_H0 = P.hash_(_C0 + W.IDENTIFIER)


class HandshakeError(Exception):
    """The message is not acceptable; ``reason`` is the drop to count."""

    def __init__(self, reason: Drop) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Keys:
    """Transport keys produced by a completed handshake."""

    send: bytes
    recv: bytes


def _h_start(suite: int, responder_public: bytes) -> bytes:
    """Initial handshake hash: the suite id is mixed in so both ends must agree on it."""
    return P.hash_(_H0 + bytes([suite]) + responder_public)


def mac1_key(responder_public: bytes) -> bytes:
    return P.hash_(W.LABEL_MAC1 + responder_public)


def cookie_key(responder_public: bytes) -> bytes:
    return P.hash_(W.LABEL_COOKIE + responder_public)


@dataclass
class InitiatorState:
    """What the initiator keeps between sending an initiation and receiving the response."""

    sender_index: int
    ephemeral_private: bytes
    chaining: bytes
    hash: bytes
    mac1: bytes  # of the initiation: a cookie reply is bound to it


def create_initiation(
    *,
    suite: int,
    static_private: bytes,
    static_public: bytes,
    peer_public: bytes,
    peer_mac1_key: bytes,
    sender_index: int,
    ephemeral_private: bytes,
    unix_time: float,
    cookie: bytes | None,
    caps: int,
) -> tuple[bytes, InitiatorState]:
    c, h = _C0, _h_start(suite, peer_public)
    e_pub = P.dh_public(ephemeral_private)
    c = P.kdf(c, e_pub, 1)[0]
    h = P.hash_(h + e_pub)
    c, k = P.kdf(c, P.dh(ephemeral_private, peer_public), 2)
    enc_static = P.aead_seal(k, 0, static_public, h)
    h = P.hash_(h + enc_static)
    c, k = P.kdf(c, P.dh(static_private, peer_public), 2)
    enc_ts = P.aead_seal(k, 0, P.tai64n(unix_time), h)
    h = P.hash_(h + enc_ts)
    body = W.INIT.pack(W.MSG_INITIATION, suite, caps, sender_index, e_pub, enc_static, enc_ts, bytes(16), bytes(16))
    msg = _add_macs(body[: W.INIT_MAC1_OFF], peer_mac1_key, cookie)
    return msg, InitiatorState(sender_index, ephemeral_private, c, h, msg[W.INIT_MAC1_OFF : W.INIT_MAC2_OFF])


@dataclass(frozen=True)
class ConsumedInitiation:
    """A valid initiation: who sent it and what the responder needs to answer."""

    peer_public: bytes
    sender_index: int
    ephemeral_public: bytes
    timestamp: bytes
    chaining: bytes
    hash: bytes
    caps: int  # the initiator's capabilities (known bits only)


def consume_initiation(
    msg: bytes,
    *,
    suite: int,
    static_private: bytes,
    static_public: bytes,
    my_mac1_key: bytes,
    lookup_ss: Callable[[bytes], bytes | None],
) -> ConsumedInitiation:
    """Authenticate an initiation. ``lookup_ss(peer_public)`` returns the precomputed static-static DH
    for a configured peer, or None for a stranger. Raises HandshakeError(reason)."""
    if len(msg) != W.INIT_LEN:
        raise HandshakeError(Drop.BAD_LENGTH)
    if not P.equal(P.mac(my_mac1_key, msg[: W.INIT_MAC1_OFF]), msg[W.INIT_MAC1_OFF : W.INIT_MAC2_OFF]):
        raise HandshakeError(Drop.BAD_MAC1)
    _, their_suite, caps, sender, e_pub, enc_static, enc_ts, _m1, _m2 = W.INIT.unpack(msg)
    if their_suite != suite:
        raise HandshakeError(Drop.SUITE_MISMATCH)
    c, h = _C0, _h_start(suite, static_public)
    c = P.kdf(c, e_pub, 1)[0]
    h = P.hash_(h + e_pub)
    try:
        c, k = P.kdf(c, P.dh(static_private, e_pub), 2)
        peer_public = P.aead_open(k, 0, enc_static, h)
    except P.DecryptError:
        raise HandshakeError(Drop.HANDSHAKE_DECRYPT) from None
    h = P.hash_(h + enc_static)
    ss = lookup_ss(peer_public)
    if ss is None:
        raise HandshakeError(Drop.UNKNOWN_PEER)
    c, k = P.kdf(c, ss, 2)
    try:
        ts = P.aead_open(k, 0, enc_ts, h)
    except P.DecryptError:
        raise HandshakeError(Drop.HANDSHAKE_DECRYPT) from None
    h = P.hash_(h + enc_ts)
    return ConsumedInitiation(peer_public, sender, e_pub, ts, c, h, caps & W.CAPS_KNOWN)


def create_response(
    init: ConsumedInitiation,
    *,
    sender_index: int,
    ephemeral_private: bytes,
    psk: bytes,
    peer_mac1_key: bytes,
    cookie: bytes | None,
    caps: int,
) -> tuple[bytes, Keys]:
    c, h = init.chaining, init.hash
    e_pub = P.dh_public(ephemeral_private)
    c = P.kdf(c, e_pub, 1)[0]
    h = P.hash_(h + e_pub)
    c = P.kdf(c, P.dh(ephemeral_private, init.ephemeral_public), 1)[0]
    c = P.kdf(c, P.dh(ephemeral_private, init.peer_public), 1)[0]
    c, t, k = P.kdf(c, psk, 3)
    h = P.hash_(h + t)
    empty = P.aead_seal(k, 0, b"", h)
    body = W.RESP.pack(W.MSG_RESPONSE, caps, sender_index, init.sender_index, e_pub, empty, bytes(16), bytes(16))
    msg = _add_macs(body[: W.RESP_MAC1_OFF], peer_mac1_key, cookie)
    t_recv, t_send = P.kdf(c, b"", 2)
    return msg, Keys(send=t_send, recv=t_recv)


def consume_response(
    msg: bytes,
    state: InitiatorState,
    *,
    static_private: bytes,
    my_mac1_key: bytes,
    psk: bytes,
) -> tuple[int, Keys, int]:
    """Finish the handshake as initiator; returns (responder's index, transport keys, its capabilities)."""
    if len(msg) != W.RESP_LEN:
        raise HandshakeError(Drop.BAD_LENGTH)
    if not P.equal(P.mac(my_mac1_key, msg[: W.RESP_MAC1_OFF]), msg[W.RESP_MAC1_OFF : W.RESP_MAC2_OFF]):
        raise HandshakeError(Drop.BAD_MAC1)
    _, caps, sender, _receiver, e_pub, empty, _m1, _m2 = W.RESP.unpack(msg)
    c, h = state.chaining, state.hash
    c = P.kdf(c, e_pub, 1)[0]
    h = P.hash_(h + e_pub)
    try:
        c = P.kdf(c, P.dh(state.ephemeral_private, e_pub), 1)[0]
        c = P.kdf(c, P.dh(static_private, e_pub), 1)[0]
        c, t, k = P.kdf(c, psk, 3)
        h = P.hash_(h + t)
        P.aead_open(k, 0, empty, h)
    except P.DecryptError:
        raise HandshakeError(Drop.HANDSHAKE_DECRYPT) from None
    t_send, t_recv = P.kdf(c, b"", 2)
    return sender, Keys(send=t_send, recv=t_recv), caps & W.CAPS_KNOWN


def _add_macs(body: bytes, mac1_key: bytes, cookie: bytes | None) -> bytes:
    m1 = P.mac(mac1_key, body)
    m2 = P.mac(cookie, body + m1) if cookie else bytes(16)
    return body + m1 + m2


def check_mac2(msg: bytes, mac2_off: int, cookie: bytes) -> bool:
    return P.equal(P.mac(cookie, msg[:mac2_off]), msg[mac2_off : mac2_off + 16])


def create_cookie_reply(msg: bytes, mac1_off: int, receiver: int, cookie: bytes, key: bytes, nonce: bytes) -> bytes:
    """Answer an initiation/response under load with a cookie bound to its mac1 (WireGuard 5.4.7)."""
    enc = P.xaead_seal(key, nonce, cookie, msg[mac1_off : mac1_off + 16])
    return W.COOKIE.pack(W.MSG_COOKIE, receiver, nonce, enc)


def consume_cookie_reply(msg: bytes, key: bytes, mac1: bytes) -> tuple[int, bytes]:
    if len(msg) != W.COOKIE_LEN:
        raise HandshakeError(Drop.BAD_LENGTH)
    _, receiver, nonce, enc = W.COOKIE.unpack(msg)
    try:
        return receiver, P.xaead_open(key, nonce, enc, mac1)
    except P.DecryptError:
        raise HandshakeError(Drop.COOKIE_DECRYPT) from None
