"""An independent peer for the tapliance native protocol, written from docs/protocol.md alone.

It imports nothing from tapliance: only hashlib, hmac, struct, pynacl (X25519,
XChaCha20-Poly1305) and cryptography (ChaCha20-Poly1305, AES-256-GCM). Its purpose is to check
that the document suffices to interoperate; tests/unit/test_protocol_doc.py runs it against
docs/protocol-vectors.json.

Findings
--------
F1 (vectors, wrong) "side X draws bytes from SHA-256(b'rng-X' || le64(i)) for i = 0, 1, ...
   concatenated": not one stream. Draw number i is SHA-256(b'rng-X' || le64(i))[:n], one block
   per draw; draw 0 (32 bytes; for B the cookie secret R) is missing from plain_pair_random_draws,
   which start at draw 1. Found by searching the stream for the listed bytes; the concatenated
   reading matches nothing after the sender index.
F2 (incomplete) The data header's "receiver index" is never defined: it is the index the
   receiving side chose (A->B data carries B's I_r 09f5955f), as in WireGuard. Matched first try.
F3 (incomplete) The Responder block does not say it continues from the (C, H) left by the
   initiation, nor spell out the responder's mirror DHs when consuming it (DH(S_r, E_i_pub),
   DH(S_r, S_i_pub)). The WireGuard reading matched first try.
F4 (ambiguous, uncheckable) TAI64N "be32(nanoseconds)": truncation vs rounding, and any
   precision reduction, are unstated; the vectors only hold whole and half seconds.
F5 (minor) KDFn "ti = HMAC(t0, t(i-1) || i)": i's encoding (one byte) is only implied by "0x01".
F6 (vectors incomplete) cookie_reply's AD is "mac1 of the message answered", but that message
   (A's retransmitted initiation) is not in the vectors. I rebuilt it from A's draws 4 (index
   d023ee03 = cookie_reply's receiver index) and 5 (ephemeral) and searched the clock in 1 ms
   steps over 0-12 s: only t = 1700001005.5 decrypts. That is 5.5 s after the first initiation,
   beyond "every 5 s + up to 1/3 s jitter" (jitter draw 0xdb); it fits only if the harness clock
   moves in 0.5 s steps, which the vectors do not say. The tests use 1700001005.5 directly.
F7 (incomplete) "puts a valid mac2 on its next retransmission": that retransmission is a new
   initiation (new index c0299508 and ephemeral from draws 7-8, TAI64N(1700001011.0)), so its
   sender index differs from cookie_reply's receiver index. It rebuilds byte for byte; mac2 =
   MAC(cookie, msg[0:132]) verifies.
F8 (unspecified, needed only beyond the doc) "MAC(R, ASCII "address|port")": R's length and the
   address text are not given. cookie = MAC(B's draw 0 (32 bytes), b"192.0.2.1|9123") and nonce =
   B's draw 3[:24] rebuild cookie_reply byte for byte; B's draws 1-2 in the cookie run are
   unexplained (presumably its answer to the first initiation).
F9 (vectors mislabelled) "frames: the Ethernet frames sent": frames.vnet is the 10-byte
   virtio-net header (all zero) plus the frame. data_vnet decrypts to frames.vnet; stripping
   leaves frames.vnet[10:], which is also what data_queued_before_caps carries (unstated).
F10 (vectors) The offload pair reuses the plain pair's draws: its ciphertexts and transport keys
   are the plain pair's (caps is outside the hash, as documented); only initiation byte 2,
   response byte 1 and the mac1s differ. So data_one_datagram and data_queued_before_caps share
   key and nonce (counter 0).
F11 (coverage) No vectors for AES-256-GCM (suite 2), a non-zero psk, IPv6 max_chunk, a
   super-frame or the response after the cookie: those parts stay unchecked. The replay window,
   offload segmentation and wire constants are deferred to code (replay.py, offload.py, wire.py).
F12 (minor) "XAEAD ... XChaCha20-Poly1305" is libsodium's IETF variant, tag appended; whether a
   drawn ephemeral is clamped is unsaid (X25519 clamps anyway). Both matched first try.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from nacl import bindings as sodium

# --- Conventions and sizes ("Conventions", message table) ---------------------------------

MSG_INITIATION = 1
MSG_RESPONSE = 2
MSG_COOKIE_REPLY = 3
MSG_DATA = 4
INITIATION_SIZE = 148
RESPONSE_SIZE = 92
COOKIE_REPLY_SIZE = 64
DATA_HEADER_SIZE = 16
TAG_SIZE = 16
MIN_DATAGRAM = 32

SUITE_CHACHA20_POLY1305 = 1
SUITE_AES_256_GCM = 2

CAP_VNET = 0x01
FLAG_VNET = 0x01
VNET_HDR_SIZE = 10
MAX_FRAME = 65620
MAX_FRAGMENTS = 255

CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"tapliance v1 native L2 tunnel"
LABEL_MAC1 = b"mac1----"
LABEL_COOKIE = b"cookie--"
ZERO_PSK = bytes(32)


class ProtocolError(Exception):
    """A message the document says must be dropped; `reason` is the documented drop reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- Primitives ("Primitives" table) -------------------------------------------------------


def blake_hash(*parts: bytes) -> bytes:
    """HASH(x): BLAKE2s-256 of the concatenation of `parts`."""
    return hashlib.blake2s(b"".join(parts)).digest()


def mac(key: bytes, data: bytes) -> bytes:
    """MAC(key, x): keyed BLAKE2s with a 16-byte digest."""
    return hashlib.blake2s(data, key=key, digest_size=16).digest()


def hmac_blake2s(key: bytes, data: bytes) -> bytes:
    """HMAC(key, x): RFC 2104 over BLAKE2s-256 (64-byte block, as hashlib's blake2s has)."""
    return hmac.new(key, data, hashlib.blake2s).digest()


def kdf(n: int, key: bytes, data: bytes) -> list[bytes]:
    """KDFn(key, x): t0 = HMAC(key, x), t1 = HMAC(t0, 0x01), ti = HMAC(t0, t(i-1) || i)."""
    t0 = hmac_blake2s(key, data)
    out: list[bytes] = []
    previous = b""
    for i in range(1, n + 1):
        previous = hmac_blake2s(t0, previous + bytes([i]))
        out.append(previous)
    return out


def public_key(private: bytes) -> bytes:
    """The X25519 public key of a private key (X25519 clamps the scalar itself)."""
    result: bytes = sodium.crypto_scalarmult_base(private)
    return result


def dh(private: bytes, public: bytes) -> bytes:
    """DH(priv, pub): X25519; an all-zero result is an error."""
    result: bytes = sodium.crypto_scalarmult(private, public)
    if result == bytes(32):
        raise ProtocolError("handshake_decrypt")
    return result


def nonce12(counter: int) -> bytes:
    """4 zero bytes || u64 counter (little-endian)."""
    return bytes(4) + struct.pack("<Q", counter)


def aead_seal(key: bytes, counter: int, plain: bytes, ad: bytes, suite: int = 1) -> bytes:
    """AEAD(key, counter, plain, ad) of the given suite, tag appended."""
    if suite == SUITE_AES_256_GCM:
        return AESGCM(key).encrypt(nonce12(counter), plain, ad)
    return ChaCha20Poly1305(key).encrypt(nonce12(counter), plain, ad)


def aead_open(key: bytes, counter: int, sealed: bytes, ad: bytes, suite: int = 1) -> bytes:
    """Inverse of `aead_seal`; raises cryptography's InvalidTag on a bad tag."""
    if suite == SUITE_AES_256_GCM:
        return AESGCM(key).decrypt(nonce12(counter), sealed, ad)
    return ChaCha20Poly1305(key).decrypt(nonce12(counter), sealed, ad)


def xaead_seal(key: bytes, nonce24: bytes, plain: bytes, ad: bytes) -> bytes:
    """XAEAD(key, nonce24, plain, ad): libsodium's XChaCha20-Poly1305 (IETF), tag appended."""
    result: bytes = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, ad, nonce24, key)
    return result


def xaead_open(key: bytes, nonce24: bytes, sealed: bytes, ad: bytes) -> bytes:
    """Inverse of `xaead_seal`; raises nacl's CryptoError on a bad tag."""
    result: bytes = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, ad, nonce24, key)
    return result


def tai64n(unix_seconds: float) -> bytes:
    """TAI64N(t) = be64(2^62 + 10 + floor(t)) || be32(nanoseconds), 12 bytes."""
    seconds = math.floor(unix_seconds)
    nanoseconds = min(round((unix_seconds - seconds) * 1e9), 999_999_999)
    return struct.pack(">QI", 2**62 + 10 + seconds, nanoseconds)


# --- Handshake -----------------------------------------------------------------------------

C0 = blake_hash(CONSTRUCTION)


def initial_hash(suite: int, responder_public: bytes) -> bytes:
    """H0 = HASH(HASH(C0 || IDENTIFIER) || suite_id || S_r_pub)."""
    return blake_hash(blake_hash(C0 + IDENTIFIER), bytes([suite]), responder_public)


def mac1_key(receiver_public: bytes) -> bytes:
    """HASH("mac1----" || S_receiver_pub)."""
    return blake_hash(LABEL_MAC1, receiver_public)


def cookie_key(cookie_sender_public: bytes) -> bytes:
    """HASH("cookie--" || S_sender_pub), S_sender_pub being the cookie reply sender's key."""
    return blake_hash(LABEL_COOKIE, cookie_sender_public)


def mac_offsets(msg: bytes) -> tuple[int, int]:
    """Offsets of mac1 and mac2 in a handshake message (the last 32 bytes)."""
    return len(msg) - 32, len(msg) - 16


def finish_macs(body: bytes, receiver_public: bytes, cookie: bytes | None) -> bytes:
    """Append mac1 = MAC(mac1 key, msg[0:mac1]) and mac2 = MAC(cookie, msg[0:mac2]) or zeros."""
    msg = body + mac(mac1_key(receiver_public), body)
    return msg + (mac(cookie, msg) if cookie is not None else bytes(16))


def verify_mac1(msg: bytes, receiver_public: bytes) -> bool:
    """Check mac1 of a handshake message addressed to `receiver_public`."""
    at, _ = mac_offsets(msg)
    return hmac.compare_digest(msg[at : at + 16], mac(mac1_key(receiver_public), msg[:at]))


def verify_mac2(msg: bytes, cookie: bytes) -> bool:
    """Check mac2 of a handshake message against a cookie."""
    _, at = mac_offsets(msg)
    return hmac.compare_digest(msg[at:], mac(cookie, msg[:at]))


@dataclass
class Keypair:
    """Transport keys of one side and the two indices of the session."""

    send: bytes
    recv: bytes
    local_index: bytes
    remote_index: bytes
    suite: int = SUITE_CHACHA20_POLY1305
    send_counter: int = 0


@dataclass
class InitiatorState:
    """What an initiator keeps between its initiation and the response."""

    chaining: bytes
    hash: bytes
    ephemeral_private: bytes
    sender_index: bytes
    suite: int
    message: bytes


@dataclass
class ConsumedInitiation:
    """What a responder learns from a valid initiation."""

    chaining: bytes
    hash: bytes
    initiator_static: bytes
    initiator_ephemeral: bytes
    initiator_index: bytes
    timestamp: bytes
    suite: int
    caps: int


@dataclass
class StaticIdentity:
    """A host's static X25519 key pair."""

    private: bytes
    public: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.public = public_key(self.private)


def create_initiation(
    me: StaticIdentity,
    responder_public: bytes,
    sender_index: bytes,
    ephemeral_private: bytes,
    unix_time: float,
    *,
    suite: int = SUITE_CHACHA20_POLY1305,
    caps: int = 0,
    cookie: bytes | None = None,
    psk: bytes = ZERO_PSK,
) -> InitiatorState:
    """Build a type-1 initiation (148 bytes) as the document's Initiator column says."""
    del psk  # psk2: mixed in only by the response
    chaining, h = C0, initial_hash(suite, responder_public)
    e_pub = public_key(ephemeral_private)
    (chaining,) = kdf(1, chaining, e_pub)
    h = blake_hash(h, e_pub)
    chaining, key = kdf(2, chaining, dh(ephemeral_private, responder_public))
    static = aead_seal(key, 0, me.public, h)
    h = blake_hash(h, static)
    chaining, key = kdf(2, chaining, dh(me.private, responder_public))
    stamp = aead_seal(key, 0, tai64n(unix_time), h)
    h = blake_hash(h, stamp)
    body = bytes([MSG_INITIATION, suite, caps, 0]) + sender_index + e_pub + static + stamp
    message = finish_macs(body, responder_public, cookie)
    return InitiatorState(chaining, h, ephemeral_private, sender_index, suite, message)


def consume_initiation(me: StaticIdentity, msg: bytes, *, suite: int = SUITE_CHACHA20_POLY1305) -> ConsumedInitiation:
    """Check and decrypt an initiation as its responder, in the document's order.

    The rate limit / mac2 step and the peer lookup are the caller's.
    """
    if len(msg) != INITIATION_SIZE or msg[0] != MSG_INITIATION:
        raise ProtocolError("bad_length")
    if not verify_mac1(msg, me.public):
        raise ProtocolError("bad_mac1")
    if msg[1] != suite:
        raise ProtocolError("suite_mismatch")
    chaining, h = C0, initial_hash(msg[1], me.public)
    e_pub = msg[8:40]
    (chaining,) = kdf(1, chaining, e_pub)
    h = blake_hash(h, e_pub)
    chaining, key = kdf(2, chaining, dh(me.private, e_pub))
    try:
        initiator_static = aead_open(key, 0, msg[40:88], h)
    except Exception as exc:
        raise ProtocolError("handshake_decrypt") from exc
    h = blake_hash(h, msg[40:88])
    chaining, key = kdf(2, chaining, dh(me.private, initiator_static))
    try:
        timestamp = aead_open(key, 0, msg[88:116], h)
    except Exception as exc:
        raise ProtocolError("handshake_decrypt") from exc
    h = blake_hash(h, msg[88:116])
    return ConsumedInitiation(chaining, h, initiator_static, e_pub, msg[4:8], timestamp, msg[1], msg[2])


def create_response(
    consumed: ConsumedInitiation,
    sender_index: bytes,
    ephemeral_private: bytes,
    *,
    caps: int = 0,
    cookie: bytes | None = None,
    psk: bytes = ZERO_PSK,
) -> tuple[bytes, Keypair]:
    """Build a type-2 response (92 bytes) and the responder's keypair."""
    chaining, h = consumed.chaining, consumed.hash
    e_pub = public_key(ephemeral_private)
    (chaining,) = kdf(1, chaining, e_pub)
    h = blake_hash(h, e_pub)
    (chaining,) = kdf(1, chaining, dh(ephemeral_private, consumed.initiator_ephemeral))
    (chaining,) = kdf(1, chaining, dh(ephemeral_private, consumed.initiator_static))
    chaining, tau, key = kdf(3, chaining, psk)
    h = blake_hash(h, tau)
    empty = aead_seal(key, 0, b"", h)
    body = bytes([MSG_RESPONSE, caps, 0, 0]) + sender_index + consumed.initiator_index
    body += e_pub + empty
    message = finish_macs(body, consumed.initiator_static, cookie)
    recv, send = kdf(2, chaining, b"")
    return message, Keypair(send, recv, sender_index, consumed.initiator_index, consumed.suite)


def consume_response(
    me: StaticIdentity, state: InitiatorState, msg: bytes, *, psk: bytes = ZERO_PSK
) -> tuple[int, Keypair]:
    """Check a response as its initiator; return the responder's caps and our keypair."""
    if len(msg) != RESPONSE_SIZE or msg[0] != MSG_RESPONSE:
        raise ProtocolError("bad_length")
    if not verify_mac1(msg, me.public):
        raise ProtocolError("bad_mac1")
    if msg[8:12] != state.sender_index:
        raise ProtocolError("unknown_index")
    chaining, h = state.chaining, state.hash
    e_r = msg[12:44]
    (chaining,) = kdf(1, chaining, e_r)
    h = blake_hash(h, e_r)
    (chaining,) = kdf(1, chaining, dh(state.ephemeral_private, e_r))
    (chaining,) = kdf(1, chaining, dh(me.private, e_r))
    chaining, tau, key = kdf(3, chaining, psk)
    h = blake_hash(h, tau)
    try:
        aead_open(key, 0, msg[44:60], h)
    except Exception as exc:
        raise ProtocolError("handshake_decrypt") from exc
    send, recv = kdf(2, chaining, b"")
    return msg[1], Keypair(send, recv, state.sender_index, msg[4:8], state.suite)


# --- Cookie replies ------------------------------------------------------------------------


def make_cookie(secret: bytes, address: str, port: int) -> bytes:
    """tapliance's (opaque) cookie: MAC(R, ASCII "address|port")."""
    return mac(secret, f"{address}|{port}".encode("ascii"))


def create_cookie_reply(me: StaticIdentity, answered: bytes, nonce24: bytes, cookie: bytes) -> bytes:
    """A type-3 cookie reply (64 bytes) to the handshake message `answered`."""
    at, _ = mac_offsets(answered)
    receiver_index = answered[4:8]
    sealed = xaead_seal(cookie_key(me.public), nonce24, cookie, answered[at : at + 16])
    return bytes([MSG_COOKIE_REPLY, 0, 0, 0]) + receiver_index + nonce24 + sealed


def open_cookie_reply(msg: bytes, cookie_sender_public: bytes, answered_mac1: bytes) -> bytes:
    """Decrypt a cookie reply: key HASH("cookie--" || S_sender_pub), ad = mac1 answered."""
    if len(msg) != COOKIE_REPLY_SIZE or msg[0] != MSG_COOKIE_REPLY:
        raise ProtocolError("bad_length")
    try:
        return xaead_open(cookie_key(cookie_sender_public), msg[8:32], msg[32:], answered_mac1)
    except Exception as exc:
        raise ProtocolError("cookie_decrypt") from exc


# --- Data messages and fragments -----------------------------------------------------------


@dataclass(frozen=True)
class DataHeader:
    """The 16-byte data header (also the AEAD's associated data)."""

    flags: int
    frag_index: int
    frag_count: int
    receiver_index: bytes
    counter: int

    def pack(self) -> bytes:
        """The header on the wire, little-endian."""
        head = bytes([MSG_DATA, self.flags, self.frag_index, self.frag_count])
        return head + self.receiver_index + struct.pack("<Q", self.counter)

    @classmethod
    def unpack(cls, datagram: bytes) -> DataHeader:
        """Parse and check a data header as the document says."""
        if len(datagram) < MIN_DATAGRAM:
            raise ProtocolError("short")
        if datagram[0] != MSG_DATA:
            raise ProtocolError("bad_type")
        flags, index, count = datagram[1], datagram[2], datagram[3]
        if flags & ~FLAG_VNET or index >= count:
            raise ProtocolError("bad_header")
        (counter,) = struct.unpack_from("<Q", datagram, 8)
        return cls(flags, index, count, datagram[4:8], counter)


def max_chunk(underlay_mtu: int, ipv6: bool = False) -> int:
    """max_chunk = underlay_mtu - (28 for IPv4, 48 for IPv6) - 32."""
    return underlay_mtu - (48 if ipv6 else 28) - 32


def layout(frame_length: int, chunk_limit: int) -> list[tuple[int, int]]:
    """The sender rule: (start, end) of every chunk of a frame."""
    count = max(1, math.ceil(frame_length / chunk_limit))
    if count > MAX_FRAGMENTS:
        raise ProtocolError("frame_too_big")
    size = math.ceil(frame_length / count)
    return [(i * size, min((i + 1) * size, frame_length)) for i in range(count)]


def seal_frame(keys: Keypair, frame: bytes, *, flags: int = 0, underlay_mtu: int = 1500) -> list[bytes]:
    """Split and seal a frame into data datagrams (one per fragment), advancing the counter."""
    spans = layout(len(frame), max_chunk(underlay_mtu))
    out: list[bytes] = []
    for index, (start, end) in enumerate(spans):
        header = DataHeader(flags, index, len(spans), keys.remote_index, keys.send_counter)
        keys.send_counter += 1
        ad = header.pack()
        out.append(ad + aead_seal(keys.send, header.counter, frame[start:end], ad, keys.suite))
    return out


def open_data(keys: Keypair, datagram: bytes) -> tuple[DataHeader, bytes]:
    """Check the header, then decrypt the chunk with the whole header as associated data."""
    header = DataHeader.unpack(datagram)
    if header.receiver_index != keys.local_index:
        raise ProtocolError("unknown_index")
    try:
        chunk = aead_open(keys.recv, header.counter, datagram[DATA_HEADER_SIZE:], datagram[:16], keys.suite)
    except Exception as exc:
        raise ProtocolError("decrypt") from exc
    return header, chunk


@dataclass
class _Partial:
    count: int
    flags: int
    chunks: dict[int, bytes] = field(default_factory=dict)


class Reassembler:
    """The receiver rules: any split, any order; frame id = counter - frag index."""

    def __init__(self) -> None:
        self._partials: dict[int, _Partial] = {}

    def add(self, header: DataHeader, chunk: bytes) -> bytes | None:
        """Add one authenticated fragment; return the frame once it is complete."""
        frame_id = header.counter - header.frag_index
        partial = self._partials.get(frame_id)
        if partial is None:
            partial = self._partials[frame_id] = _Partial(header.frag_count, header.flags)
        elif partial.count != header.frag_count or partial.flags != header.flags:
            del self._partials[frame_id]
            raise ProtocolError("frag_inconsistent")
        if header.frag_index in partial.chunks:
            raise ProtocolError("frag_duplicate")
        partial.chunks[header.frag_index] = chunk
        if sum(len(c) for c in partial.chunks.values()) > MAX_FRAME:
            del self._partials[frame_id]
            raise ProtocolError("frag_oversize")
        if len(partial.chunks) < partial.count:
            return None
        del self._partials[frame_id]
        for older in [fid for fid in self._partials if fid < frame_id]:
            del self._partials[older]  # frag_overtaken
        return b"".join(partial.chunks[i] for i in range(partial.count))


def strip_vnet(frame: bytes, flags: int) -> tuple[bytes | None, bytes]:
    """Split (virtio-net header or None, Ethernet frame) by the frame's VNET flag."""
    if flags & FLAG_VNET:
        return frame[:VNET_HDR_SIZE], frame[VNET_HDR_SIZE:]
    return None, frame


@dataclass(frozen=True)
class VirtioNetHeader:
    """struct virtio_net_hdr (10 bytes, little-endian)."""

    flags: int
    gso_type: int
    hdr_len: int
    gso_size: int
    csum_start: int
    csum_offset: int

    @classmethod
    def unpack(cls, raw: bytes) -> VirtioNetHeader:
        """Parse the 10 bytes."""
        return cls(*struct.unpack("<BBHHHH", raw))


# --- The vectors' deterministic randomness -------------------------------------------------


class VectorRandom:
    """The vectors' randomness as it really is: draw i is SHA-256(b'rng-X' || le64(i))[:n].

    (Not one concatenated stream, as the vectors file says; see Findings.)
    """

    def __init__(self, side: str) -> None:
        self._side = side.encode("ascii")
        self._i = 0

    def block(self, i: int) -> bytes:
        """The i-th 32-byte block."""
        return hashlib.sha256(b"rng-" + self._side + struct.pack("<Q", i)).digest()

    def draw(self, n: int) -> bytes:
        """The next draw of n <= 32 bytes."""
        out = self.block(self._i)[:n]
        self._i += 1
        return out


def load_vectors(path: Path) -> dict[str, Any]:
    """Read docs/protocol-vectors.json."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
