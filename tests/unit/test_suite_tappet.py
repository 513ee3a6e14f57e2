"""tappet codec: the captured datagram, receive rules, keepalives and timers, key and nonce files, fuzz."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_box_beforenm, crypto_box_open_afternm

from tapliance.proto.drops import Drop
from tapliance.suites.tappet import (
    KeyFileError,
    NonceFileError,
    Tappet,
    keepalive,
    key_file_content,
    next_nonce_prefix,
    parse_key_file,
    parse_nonce_file,
    seal_nonce,
)
from tests.unit.legacy_codec import assert_contract, snapshot

# Seed notes 1.7: S is the tappet binary (server), C the independent client.
S_KEY = b"1e7ae8d0508e579b2fade5e5e6277ca5665a5e8eeba8b28f57a0eb0850395c67\n"
S_PUB = b"270bbc831ea0a3650a9023fee618aaa5eb412ce16668183e5f4f55ddac54d122\n"
C_KEY = b"d05f43760c94948ebced266f419d5fa6feecf4a64f956be7d2b2cc6ea61b00bc\n"
C_PUB = b"097964088ed4020bd4af0ae3403671cb14b6b78d670860b9cad11c3aa2e6467a\n"
FRAME = bytes.fromhex("020000000009f2829a6d825808060001080006040002f2829a6d82580ac900010200000000090ac90009")
N24 = bytes.fromhex("0000000b0b58a32da954a391c88a58c00000059db2efe23d")
# The note prints 85 bytes, but a 42-byte frame makes a 98-byte datagram: its hex stops 13 bytes
# short. Re-sealing the note's frame under the note's nonce and keys gives a datagram whose first 85
# bytes are the note's, including the 16-byte Poly1305 tag, which covers the whole ciphertext; so
# the 13 bytes below are the ones the binary sent (the tag would not match otherwise).
NOTE_HEX = (
    N24
    + bytes(16)
    + bytes.fromhex("696e1e159e88cff9ea4062ed2fcebc07b1ce5cfd1ad1a433689c90b8ec3c79c6e26885a02b2c9b764ebe40e319")
)
CAPTURE = NOTE_HEX + bytes.fromhex("97b44796e4cf393d818f337a72")

NOW = 1_800_000_000.0
RAND = bytes(range(1, 13))
DATA = bytes(range(40))


def client(prefix: int = 5) -> Tappet:
    return Tappet(parse_key_file(C_KEY), parse_key_file(S_PUB), prefix, RAND, client=True)


def server(prefix: int = 0x0B, rand12: bytes = N24[4:16]) -> Tappet:
    return Tappet(parse_key_file(S_KEY), parse_key_file(C_PUB), prefix, rand12, client=False)


def test_capture_completion_is_authenticated_by_the_note_tag() -> None:
    assert len(NOTE_HEX) == 85 and CAPTURE.startswith(NOTE_HEX) and len(CAPTURE) == 56 + len(FRAME)
    key = crypto_box_beforenm(parse_key_file(S_PUB), parse_key_file(C_KEY))
    assert crypto_box_open_afternm(CAPTURE[40:], N24, key) == FRAME  # the note's tag verifies it


def test_capture_decodes() -> None:
    assert client().open(CAPTURE, NOW) == FRAME


def test_capture_reproduced_byte_for_byte() -> None:
    key = crypto_box_beforenm(parse_key_file(C_PUB), parse_key_file(S_KEY))
    assert seal_nonce(key, N24, FRAME) == CAPTURE
    s = server()
    s._ns = int.from_bytes(N24[16:], "big") - 1  # the binary's CLOCK_MONOTONIC, one ns before
    assert s.seal(FRAME, 0.0) == CAPTURE  # prefix 0x0b, its rand12, and ns + 1


def test_seal_layout_and_increasing_ns() -> None:
    c = client(prefix=0x01020304)
    a, b = c.seal(DATA, NOW), c.seal(DATA, NOW - 5)  # the clock stepped back: ns still grows
    assert isinstance(a, bytes) and isinstance(b, bytes)
    assert a[:4] == bytes([1, 2, 3, 4]) and a[4:16] == RAND and a[24:40] == bytes(16)
    assert int.from_bytes(b[16:24], "big") == int.from_bytes(a[16:24], "big") + 1
    assert len(a) == len(DATA) + Tappet.overhead


def test_mtu() -> None:
    assert Tappet.tap_mtu(1500) == 1402 and Tappet.tap_mtu(1500, ipv6=True) == 1382 and Tappet.insecure is None


def _from_server(plaintext: bytes, at: int = 0) -> Callable[[Tappet, Tappet], list[bytes]]:
    def make(ours: Tappet, theirs: Tappet) -> list[bytes]:
        return [seal_nonce(theirs._key, theirs.next_nonce(NOW + at), plaintext)]

    return make


def _swapped(theirs: Tappet) -> list[bytes]:
    first, second = (seal_nonce(theirs._key, theirs.next_nonce(NOW), DATA) for _ in range(2))
    return [second, first]


def _replace(datagram: bytes, start: int, new: bytes) -> bytes:
    return datagram[:start] + new + datagram[start + len(new) :]


Rows = Callable[[Tappet, Tappet], list[bytes]]
RULES: list[tuple[str, Rows, bytes | Drop]] = [
    ("frame", _from_server(DATA), DATA),
    ("short", lambda o, t: [_from_server(DATA)(o, t)[0][:55]], Drop.LEGACY_SHORT),
    ("keepalive", _from_server(keepalive(300)), b""),
    ("keepalive form, 4 bytes", _from_server(keepalive(300) + b"\x00"), Drop.TAPPET_RUNT),
    ("3 bytes, not 0xFE", _from_server(b"\xfd\x01\x2c"), Drop.TAPPET_RUNT),
    ("31 bytes", _from_server(DATA[:31]), Drop.TAPPET_RUNT),
    ("32 bytes: a frame", _from_server(DATA[:32]), DATA[:32]),
    ("replay", lambda o, t: _from_server(DATA)(o, t) * 2, Drop.LEGACY_REPLAY),
    ("reordered: strictly increasing", lambda o, t: _swapped(t), Drop.LEGACY_REPLAY),
    ("our own reflected", lambda o, t: [o.seal(DATA, NOW)], Drop.LEGACY_REFLECTED),
    ("wrong key", lambda o, t: [seal_nonce(bytes(32), t.next_nonce(NOW), DATA)], Drop.LEGACY_AUTH),
    ("tag altered", lambda o, t: [_replace(_from_server(DATA)(o, t)[0], 40, b"\x00")], Drop.LEGACY_AUTH),
    ("zero bytes altered: ignored", lambda o, t: [_replace(_from_server(DATA)(o, t)[0], 24, b"\xff" * 16)], DATA),
    (
        "far end restarted (prefix + 1)",
        lambda o, t: [*_from_server(DATA)(o, t), *_from_server(DATA)(o, server(12))],
        DATA,
    ),
    (
        "far end's earlier run",
        lambda o, t: [*_from_server(DATA)(o, t), *_from_server(DATA)(o, server(10))],
        Drop.LEGACY_REPLAY,
    ),
]


@pytest.mark.parametrize(("datagrams", "expected"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_receive_rules(datagrams: Rows, expected: bytes | Drop) -> None:
    ours, theirs = client(), server()
    results = [ours.open(d, NOW) for d in datagrams(ours, theirs)]
    assert results[-1] == expected
    assert not any(isinstance(r, Drop) for r in results[:-1])


def test_keepalive_records_sizes() -> None:
    ours, theirs = client(), server()
    datagram = _from_server(keepalive(1234))(ours, theirs)[0]
    assert ours.open(datagram, NOW) == b""
    assert ours.biggest_announced == 1234 and ours.biggest_received == len(datagram)


def _plaintexts(codec: Tappet, key_of: Tappet) -> list[bytes]:
    return [crypto_box_open_afternm(d[40:], d[:24], key_of._key) for d in codec.control]


def test_client_timers() -> None:
    ours, theirs = client(), server()
    assert ours.on_timer(NOW) == NOW + 10
    assert _plaintexts(ours, theirs) == [keepalive(0)]  # the start-up keepalive
    ours.control.clear()
    assert ours.open(_from_server(DATA)(ours, theirs)[0], NOW + 5) == DATA
    assert ours.on_timer(NOW + 10) == NOW + 15 and not ours.control  # traffic at +5
    assert ours.on_timer(NOW + 15) == NOW + 25
    assert _plaintexts(ours, theirs) == [keepalive(len(DATA) + 56)]  # the biggest datagram received


def test_server_keepalives_only_once_it_knows_its_peer() -> None:
    ours, theirs = server(), client()
    assert ours.on_timer(NOW) == math.inf and ours.on_timer(NOW + 100) == math.inf and not ours.control
    theirs.on_timer(NOW)  # the client's start-up keepalive
    assert ours.open(theirs.control.pop(), NOW) == b""
    assert ours.on_timer(NOW + 10) == NOW + 20 and _plaintexts(ours, theirs) == [keepalive(59)]


@pytest.mark.parametrize("content", [S_KEY, S_KEY[:64].upper() + b"\n"])
def test_key_file_accepted(content: bytes) -> None:
    key = parse_key_file(content)
    assert key.hex() == S_KEY[:64].decode() and key_file_content(key) == S_KEY


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (S_KEY[:64], "expected 64 hex characters and a newline, got 64 bytes"),
        (S_KEY[:63] + b"\n", "got 64 bytes"),
        (S_KEY + b"\n", "got 66 bytes"),
        (b"", "got 0 bytes"),
        (S_KEY[:64] + b" ", "got 65 bytes without the final newline"),
        (b"x" + S_KEY[1:], "character 1 is not a hex digit"),
        (S_KEY[:10] + b" " + S_KEY[11:], "character 11"),
    ],
)
def test_key_file_refused(content: bytes, message: str) -> None:
    with pytest.raises(KeyFileError, match=message) as info:
        parse_key_file(content)
    assert "\n" not in str(info.value) and str(info.value).startswith("tappet key file: ")


@pytest.mark.parametrize(
    ("content", "prefix", "written"),
    [
        (bytes(4), 1, b"\x01\x00\x00\x00"),
        (b"\x0a\x00\x00\x00", 0x0B, b"\x0b\x00\x00\x00"),
        (b"\xff\x00\x00\x00", 0x100, b"\x00\x01\x00\x00"),
        (b"\xfe\xff\xff\xff", 0xFFFFFFFF, b"\xff\xff\xff\xff"),
    ],
)
def test_nonce_file_little_endian(content: bytes, prefix: int, written: bytes) -> None:
    assert next_nonce_prefix(content) == (prefix, written)
    assert parse_nonce_file(written) == prefix


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xff\xff\xff", "would wrap around to 0"),
        (b"\x00" * 3, "expected 4 bytes, got 3"),
        (b"\x00" * 5, "expected 4 bytes, got 5"),
        (b"", "got 0"),
    ],
)
def test_nonce_file_refused(content: bytes, message: str) -> None:
    with pytest.raises(NonceFileError, match=message) as info:
        next_nonce_prefix(content)
    assert "\n" not in str(info.value) and str(info.value).startswith("tappet nonce file: ")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=150))
def test_fuzz_random_datagrams(data: bytes) -> None:
    ours = client()
    assert ours.open(CAPTURE, NOW) == FRAME
    before = snapshot(ours)
    assert isinstance(ours.open(data, NOW), Drop)
    assert snapshot(ours) == before


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=len(CAPTURE) - 1),
    st.integers(min_value=1, max_value=255),
    st.sampled_from(["flip", "cut", "extend"]),
)
def test_fuzz_mutated_capture(index: int, xor: int, how: str) -> None:
    ours = client()
    if how == "flip":
        data = CAPTURE[:index] + bytes([CAPTURE[index] ^ xor]) + CAPTURE[index + 1 :]
    elif how == "cut":
        data = CAPTURE[:index]
    else:
        data = CAPTURE + bytes([xor])
    if how == "flip" and 24 <= index < 40:
        assert ours.open(data, NOW) == FRAME  # the 16 zero bytes are not authenticated, nor checked
        return
    before = snapshot(ours)
    assert isinstance(ours.open(data, NOW), Drop)
    assert snapshot(ours) == before
    assert ours.open(CAPTURE, NOW) == FRAME


@pytest.mark.parametrize("make", [client, server])
def test_contract(make: Callable[[], Tappet]) -> None:
    assert_contract(make(), DATA, NOW)
