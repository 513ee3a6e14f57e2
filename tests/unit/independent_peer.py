"""An independent peer for the tapliance native protocol, written from docs/protocol.md alone.

It imports nothing from tapliance: only hashlib, hmac, struct, pynacl (X25519,
XChaCha20-Poly1305) and cryptography (ChaCha20-Poly1305, AES-256-GCM). Its purpose is to check
that the document suffices to interoperate; tests/unit/test_protocol_doc.py runs it against
docs/protocol-vectors.json.

Findings (second review, against the revised document and the runs layout of the vectors)
--------
F1 resolved. common.randomness: "each call for n <= 32 bytes is the first n bytes of
   SHA-256(seed || le64(k)) ... 'draws' lists every call of the run in order ... (draw 0 is the
   side's cookie secret)". Every listed draw of the five runs regenerates from its seed.
F2 resolved. "receiver index is the index the receiving side chose in the handshake: data from
   the initiator carries the responder's I_r, data from the responder the initiator's I_i".
F3 resolved. "It consumes the initiation by the same steps with its own keys, starting from C0,
   H0" with DH(S_r, E_i_pub), DH(S_r, S_i_pub) spelled out, "and then, continuing from that C and H".
F4 resolved by "n = floor((t - floor(t)) * 10^9) (truncated, not rounded)". The vectors still
   hold only whole and half seconds, so they cannot tell truncation from rounding (see F17).
F5 resolved. "ti = HMAC(t0, t(i-1) || byte(i))".
F6 resolved (vectors): initiation_retransmitted is now given, at monotonic 1005.5, and rebuilds
   from A's draws 4-5. Residue, off the wire: 5.5 s exceeds "5 s + up to 1/3 s jitter"; only a
   vectors note says "the timers run in 0.5 s steps", and how the 1-byte jitter draw maps to
   seconds is unstated.
F7 resolved. "(a new initiation, with a new sender index and ephemeral key, as every
   retransmission is)".
F8 resolved as far as needed: the cookie is opaque by design; draw 0 is the cookie secret R (32
   bytes) and B's draws 1-2 are now response_lost. MAC(B's draw 0, b"192.0.2.1|9123") still
   rebuilds cookie_reply byte for byte; the address text for IPv6 stays unsaid (opaque, harmless).
F9 resolved. common.tap: "frames are the TAP frames A sent (with a virtio-net header where the
   run has offloads)"; data_queued_before_caps's note: "the header removed (tap_frame[10:])".
F10 resolved. Every run has its own seeds and draws; no key or nonce is shared between runs.
F11 partly resolved: the aes and psk runs now check suite 2 and a non-zero psk. Still open: no
   IPv6 max_chunk, no super-frame or NEEDS_CSUM header (segmentation is deferred to offload.py),
   no response to initiation_with_mac2, and no data from B, so the responder's send direction
   (T_send, I_i as receiver index, key confirmation) is checked only through A's keys.
F12 resolved. "the IETF variant (libsodium's crypto_aead_xchacha20poly1305_ietf), tag appended";
   "Private keys are 32 random bytes used as they are (X25519 clamps them)".
F13 resolved as far as it can be: the cookie run has B answer initiation_retransmitted with a cookie
   at handshake_rate 1, yet A's network's 1/s bucket holds a token again 5.5 s on. The document now
   says why: under load is decided by measured CPU time, not by the messages, and the run's test puts
   B under load explicitly. The cookie reply's existence is the run's premise, not derivable.
F14 (new; timing, off the wire) The plain run's keepalive is at 1011.0, 11 s after A's last data
   (1000.0); the table says "after keepalive s (default 10) of tx silence" and 1010.0 is a
   reachable 0.5 s step. Tick or strictness of the timer is unstated.
F15 (new; since resolved: "nonce is 24 random bytes") The cookie reply's 24-byte nonce is not said
   to be random, and the Test
   vectors list of draws ("the responder its sender index and ephemeral key") omits it: it is B's
   draw 3 in the cookie run, found by its length.
F16 (new; vectors, minor) The runs carry no machine-readable caps or suite id: the suite is a
   name ("aes-256-gcm", mapped to id 2 by the document), caps only prose ("offload: ... caps 1")
   and notes; the psk appeared twice (keys.psk_run_psk and runs.psk.psk). Since resolved:
   suite_id and caps per run, the psk once.
F17 (new; minor) TAI64N's t is a real number of seconds: computed in binary doubles (about 240 ns
   resolution at 1.7e9) n differs from an integer-nanosecond clock for most fractions. Harmless to
   interoperation (only order matters) but undefined for reproducing a vector with such a clock.
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
MAX_FRAME = 65565
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
    """TAI64N(t) = be64(2^62 + 10 + floor(t)) || be32(n), n = floor((t - floor(t)) * 10^9), truncated."""
    seconds = math.floor(unix_seconds)
    nanoseconds = math.floor((unix_seconds - seconds) * 10**9)
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


def index_from_draw(draw: bytes) -> bytes:
    """A sender index: a 4-byte draw read little-endian, sent as a little-endian u32."""
    if len(draw) != 4:
        raise ValueError(draw)
    return struct.pack("<I", int.from_bytes(draw, "little"))


def check_newer_timestamp(last: bytes | None, timestamp: bytes) -> bytes:
    """Accept a TAI64N only if greater than the last accepted one (12-byte big-endian strings)."""
    if last is not None and timestamp <= last:
        raise ProtocolError("stale_timestamp")
    return timestamp


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
    check_type_and_size(msg, MSG_INITIATION)
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
    check_type_and_size(msg, MSG_RESPONSE)
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


# --- Message layouts (the diagrams) ---------------------------------------------------------


@dataclass(frozen=True)
class InitiationFields:
    """A type-1 message cut at the diagram's offsets."""

    suite: int
    caps: int
    reserved: bytes
    sender_index: bytes
    ephemeral: bytes
    static: bytes
    stamp: bytes
    mac1: bytes
    mac2: bytes


@dataclass(frozen=True)
class ResponseFields:
    """A type-2 message cut at the diagram's offsets."""

    caps: int
    reserved: bytes
    sender_index: bytes
    receiver_index: bytes
    ephemeral: bytes
    empty: bytes
    mac1: bytes
    mac2: bytes


@dataclass(frozen=True)
class CookieReplyFields:
    """A type-3 message cut at the diagram's offsets."""

    reserved: bytes
    receiver_index: bytes
    nonce: bytes
    sealed: bytes


def check_type_and_size(msg: bytes, expected_type: int) -> None:
    """The first checks of every datagram: short, bad_type, bad_length (message table)."""
    sizes = {MSG_INITIATION: INITIATION_SIZE, MSG_RESPONSE: RESPONSE_SIZE, MSG_COOKIE_REPLY: COOKIE_REPLY_SIZE}
    if len(msg) < MIN_DATAGRAM:
        raise ProtocolError("short")
    if msg[0] not in (*sizes, MSG_DATA) or msg[0] != expected_type:
        raise ProtocolError("bad_type")
    if msg[0] in sizes and len(msg) != sizes[msg[0]]:
        raise ProtocolError("bad_length")


def parse_initiation(msg: bytes) -> InitiationFields:
    """Cut an initiation: type, suite, caps, 0, I_i, E_i_pub, static, stamp, mac1, mac2."""
    check_type_and_size(msg, MSG_INITIATION)
    return InitiationFields(
        msg[1], msg[2], msg[3:4], msg[4:8], msg[8:40], msg[40:88], msg[88:116], msg[116:132], msg[132:]
    )


def parse_response(msg: bytes) -> ResponseFields:
    """Cut a response: type, caps, 0, 0, I_r, I_i, E_r_pub, empty, mac1, mac2."""
    check_type_and_size(msg, MSG_RESPONSE)
    return ResponseFields(msg[1], msg[2:4], msg[4:8], msg[8:12], msg[12:44], msg[44:60], msg[60:76], msg[76:])


def parse_cookie_reply(msg: bytes) -> CookieReplyFields:
    """Cut a cookie reply: type, 3 reserved, receiver index, nonce (24), sealed cookie (32)."""
    check_type_and_size(msg, MSG_COOKIE_REPLY)
    return CookieReplyFields(msg[1:4], msg[4:8], msg[8:32], msg[32:])


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
    check_type_and_size(msg, MSG_COOKIE_REPLY)
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


def seal_chunks(keys: Keypair, chunks: list[bytes], *, flags: int = 0) -> list[bytes]:
    """Seal the chunks of one frame, one datagram each, counters consecutive from send_counter."""
    if not 1 <= len(chunks) <= MAX_FRAGMENTS:
        raise ProtocolError("frame_too_big")
    out: list[bytes] = []
    for index, chunk in enumerate(chunks):
        header = DataHeader(flags, index, len(chunks), keys.remote_index, keys.send_counter)
        keys.send_counter += 1
        ad = header.pack()
        out.append(ad + aead_seal(keys.send, header.counter, chunk, ad, keys.suite))
    return out


def seal_frame(keys: Keypair, frame: bytes, *, flags: int = 0, underlay_mtu: int = 1500) -> list[bytes]:
    """Split a frame by the sender rule and seal it into data datagrams, advancing the counter."""
    spans = layout(len(frame), max_chunk(underlay_mtu))
    return seal_chunks(keys, [frame[start:end] for start, end in spans], flags=flags)


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


def outbound_frame(tap_frame: bytes, *, tap_offloads: bool, peer_caps: int | None) -> tuple[int, bytes]:
    """(data flags, frame) for a TAP frame, by "Capabilities and offload negotiation".

    `peer_caps` is None for a frame queued before the handshake completed (sent plain). Only a
    header without segmentation or pending checksum is removed here; segmenting a super-frame
    is deferred by the document to tapliance/proto/offload.py.
    """
    if not tap_offloads:
        return 0, tap_frame
    if peer_caps is not None and peer_caps & CAP_VNET:
        return FLAG_VNET, tap_frame
    header = VirtioNetHeader.unpack(tap_frame[:VNET_HDR_SIZE])
    if header.gso_type != 0 or header.flags & 0x01:
        raise NotImplementedError("super-frame or pending checksum: offload.py, not in the document")
    return 0, tap_frame[VNET_HDR_SIZE:]


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
    """common.randomness: call k of a side returns SHA-256(seed || le64(k))[:n], n <= 32."""

    def __init__(self, seed: str) -> None:
        self._seed = seed.encode("ascii")
        self._k = 0

    def block(self, k: int) -> bytes:
        """The 32-byte block of call k."""
        return hashlib.sha256(self._seed + struct.pack("<Q", k)).digest()

    def draw(self, n: int) -> bytes:
        """The next call, for n <= 32 bytes."""
        if not 0 < n <= 32:
            raise ValueError(n)
        out = self.block(self._k)[:n]
        self._k += 1
        return out


def load_vectors(path: Path) -> dict[str, Any]:
    """Read docs/protocol-vectors.json."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
