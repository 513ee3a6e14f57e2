"""QuickTun raw / nacl0 / nacltai codecs: captured datagrams, receive rules, keys, fuzz."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapliance.proto.drops import Drop
from tapliance.suites import quicktun
from tapliance.suites.quicktun import (
    TAI_OFFSET,
    KeyFileError,
    Nacl0,
    NaclTai,
    Raw,
    parse_hex_key,
    parse_key_file,
    role_of,
    tai_label,
)
from tests.unit.legacy_codec import assert_contract, snapshot

# Seed notes 1.7: A is the QuickTun binary (the larger public key: it sends with dir=1), B the peer.
A_SK = parse_hex_key("597848b4f4148d5c4551952b10e91b80d5eeb80eb4411358b9cb47ccb976fe35", "PRIVATE_KEY")
A_PK = parse_hex_key("879c8e532032e6aa4fc9d341b13167e714affe3669c32fca17135fe5ab4cb550")
B_SK = parse_hex_key("6ec1343fcbb72a6f9a900fbb3513bfba4c30085453132266199a6590d6ca90b3", "PRIVATE_KEY")
B_PK = parse_hex_key("1f9c7bb228560659d4e04368bd16fa48882b9b8f6431cfab5978b757941f1c18")
NACL0_CAPTURE = bytes.fromhex(
    "ae9594c27c14bda77a5d7ba510afead1ed3df83d79483a7665206475561b86bd66f489f9f9182a395d3b3e04fce8bc4813b3cdb4"
    "03bc79d5668f"
)
NACL0_FRAME = bytes.fromhex("020000000009421d709ecc1c08060001080006040002421d709ecc1c0ac900010200000000090ac90009")
TAI_CAPTURE = bytes.fromhex(
    "400000006b02f01d204f76240000000159870e53b0d8de028b72e52ac3d75dfc9a7086ddd34972b71e83a19759c48e82fc688cf8"
    "abf291376deae975261d2e4ee6b48a09a32f635b8f74"
)
TAI_FRAME = bytes.fromhex("02000000000926680e8b7c550806000108000604000226680e8b7c550ac900010200000000090ac90009")
TAI_SECONDS = int.from_bytes(TAI_CAPTURE[:8], "big") - TAI_OFFSET
TAI_USEC = (int.from_bytes(TAI_CAPTURE[8:12], "big") - 500) // 1000
TAI_NOW = TAI_SECONDS + TAI_USEC / 1e6

NOW = 1_800_000_000.0
FRAME = bytes(range(60))


def test_roles_of_the_capture_keys() -> None:
    assert role_of(A_PK, B_PK) == 1 and role_of(B_PK, A_PK) == 2 and role_of(A_PK, A_PK) == 0
    assert role_of(B_PK, A_PK, override=7) == 1 and role_of(A_PK, B_PK, override=0) == 2


def test_nacl0_capture_decodes_and_reseals() -> None:
    assert Nacl0(B_SK, A_PK).open(NACL0_CAPTURE, NOW) == NACL0_FRAME
    assert Nacl0(A_SK, B_PK).seal(NACL0_FRAME, NOW) == NACL0_CAPTURE


def test_nacltai_capture_decodes() -> None:
    assert NaclTai(B_SK, A_PK, NOW).open(TAI_CAPTURE, NOW) == TAI_FRAME


def test_nacltai_capture_reseals_from_its_label_and_from_its_time() -> None:
    assert tai_label(TAI_SECONDS, TAI_USEC, 1) == TAI_CAPTURE[:16]  # counter 1: the first packet
    sender = NaclTai(A_SK, B_PK, TAI_NOW)
    assert sender.seal_labelled(TAI_FRAME, TAI_CAPTURE[:16]) == TAI_CAPTURE
    assert NaclTai(A_SK, B_PK, TAI_NOW).seal(TAI_FRAME, TAI_NOW) == TAI_CAPTURE


def test_mtu_and_insecure() -> None:
    assert (Raw.tap_mtu(1500), Nacl0.tap_mtu(1500), NaclTai.tap_mtu(1500)) == (1458, 1442, 1426)
    assert NaclTai.tap_mtu(1500, ipv6=True) == 1406 and Raw.tap_mtu(9000) == 1500
    assert Raw.insecure and Nacl0.insecure and "nonce" in Nacl0.insecure and NaclTai.insecure is None


def _seal(codec: NaclTai, t: float) -> bytes:
    out = codec.seal(FRAME, t)
    assert isinstance(out, bytes)
    return out


def _flip(datagram: bytes, index: int) -> bytes:
    return datagram[:index] + bytes([datagram[index] ^ 1]) + datagram[index + 1 :]


def _series(codec: NaclTai, n: int) -> list[bytes]:
    return [_seal(codec, NOW + i) for i in range(n)]


def _reorder(datagrams: list[bytes], order: tuple[int, ...]) -> list[bytes]:
    return [datagrams[i] for i in order]


def _tai_rows() -> list[tuple[str, Callable[[NaclTai, NaclTai], list[bytes]], bytes | Drop]]:
    return [
        ("valid", lambda o, t: [_seal(t, NOW)], FRAME),
        ("short", lambda o, t: [_seal(t, NOW)[:31]], Drop.LEGACY_SHORT),
        ("duplicate", lambda o, t: [_seal(t, NOW)] * 2, Drop.LEGACY_REPLAY),
        ("reordered inside the 5", lambda o, t: _reorder(_series(t, 3), (0, 2, 1)), FRAME),
        ("below the 5 remembered", lambda o, t: _reorder(_series(t, 6), (1, 2, 3, 4, 5, 0)), Drop.LEGACY_REPLAY),
        ("same second, counter orders it", lambda o, t: [_seal(t, NOW), _seal(t, NOW)], FRAME),
        ("wrong key", lambda o, t: [_seal(NaclTai(bytes(32), A_PK, NOW), NOW)], Drop.LEGACY_AUTH),
        ("our own reflected: wrong direction byte", lambda o, t: [_seal(o, NOW)], Drop.LEGACY_AUTH),
        ("tag altered", lambda o, t: [_flip(_seal(t, NOW), 16)], Drop.LEGACY_AUTH),
        ("label altered", lambda o, t: [_flip(_seal(t, NOW), 15)], Drop.LEGACY_AUTH),
        ("far-future label accepted (no upper bound)", lambda o, t: [_seal(t, NOW + 10**6)], FRAME),
    ]


@pytest.mark.parametrize(("datagrams", "expected"), [r[1:] for r in _tai_rows()], ids=[r[0] for r in _tai_rows()])
def test_nacltai_receive_rules(datagrams: Callable[[NaclTai, NaclTai], list[bytes]], expected: bytes | Drop) -> None:
    ours, theirs = NaclTai(B_SK, A_PK, NOW), NaclTai(A_SK, B_PK, NOW)
    results = [ours.open(d, NOW) for d in datagrams(ours, theirs)]
    assert results[-1] == expected
    assert not any(isinstance(r, Drop) for r in results[:-1])  # the set-up datagrams were accepted


@pytest.mark.parametrize(
    ("time_window", "sent_at", "expected"),
    [(None, NOW - 10**6, TAI_FRAME), (10, NOW - 20, Drop.LEGACY_REPLAY), (10, NOW - 5, TAI_FRAME)],
)
def test_nacltai_time_window(time_window: float | None, sent_at: float, expected: bytes | Drop) -> None:
    datagram = NaclTai(A_SK, B_PK, NOW).seal(TAI_FRAME, sent_at)
    assert isinstance(datagram, bytes)
    assert NaclTai(B_SK, A_PK, NOW, time_window=time_window).open(datagram, NOW) == expected


@pytest.mark.parametrize(
    ("sender_role", "receiver_role", "expected"),
    [(None, None, FRAME), (1, None, FRAME), (0, None, Drop.LEGACY_AUTH), (0, 1, FRAME), (None, 1, Drop.LEGACY_AUTH)],
)
def test_nacltai_role_override(sender_role: int | None, receiver_role: int | None, expected: bytes | Drop) -> None:
    datagram = NaclTai(A_SK, B_PK, NOW, role=sender_role).seal(FRAME, NOW)
    assert isinstance(datagram, bytes)
    assert NaclTai(B_SK, A_PK, NOW, role=receiver_role).open(datagram, NOW) == expected


def _pair(kind: str) -> tuple[Raw | Nacl0, Raw | Nacl0]:
    return (Raw(), Raw()) if kind == "raw" else (Nacl0(B_SK, A_PK), Nacl0(A_SK, B_PK))


@pytest.mark.parametrize("kind", ["raw", "nacl0"])
@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([("theirs", 0.0)], FRAME),
        ([("theirs", 0.0), ("again", 0.3)], Drop.LEGACY_DUPLICATE),  # replay / network duplicate
        ([("theirs", 0.0), ("again", 1.0)], FRAME),  # an identical frame re-sent 1 s later (ARP retry)
        ([("ours", 0.0)], Drop.LEGACY_REFLECTED),  # our own datagram sent back at once
        ([("ours", 0.0), ("again", 0.6)], FRAME),  # ... or late: indistinguishable, accepted as QuickTun does
    ],
)
def test_raw_nacl0_duplicates_and_reflection(kind: str, steps: list[tuple[str, float]], expected: bytes | Drop) -> None:
    ours, theirs = _pair(kind)
    last = b""
    results = []
    for who, at in steps:
        if who != "again":
            sealed = (ours if who == "ours" else theirs).seal(FRAME, NOW + at)
            assert isinstance(sealed, bytes)
            last = sealed
        results.append(ours.open(last, NOW + at))
    assert results[-1] == expected


@pytest.mark.parametrize(
    ("codec", "datagram", "expected"),
    [
        (Raw(), b"", Drop.LEGACY_SHORT),
        (Nacl0(B_SK, A_PK), NACL0_CAPTURE[:15], Drop.LEGACY_SHORT),
        (Nacl0(B_SK, A_PK), NACL0_CAPTURE[:16], Drop.LEGACY_AUTH),
        (Nacl0(bytes(32), A_PK), NACL0_CAPTURE, Drop.LEGACY_AUTH),
        (Nacl0(B_SK, A_PK), NACL0_CAPTURE[:-1], Drop.LEGACY_AUTH),
    ],
    ids=["raw empty", "nacl0 short", "nacl0 tag only", "nacl0 wrong key", "nacl0 truncated"],
)
def test_raw_nacl0_malformed(codec: Raw | Nacl0, datagram: bytes, expected: Drop) -> None:
    assert codec.open(datagram, NOW) is expected


def test_digest_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quicktun, "DIGEST_SLOTS", 3)
    ours = Raw()
    frames = [bytes([i]) * 20 for i in range(5)]
    assert [ours.open(f, NOW) for f in frames] == frames
    assert ours.open(frames[0], NOW) == frames[0]  # pushed out early: accepted (never a wrong drop)
    assert ours.open(frames[4], NOW) is Drop.LEGACY_DUPLICATE


@pytest.mark.parametrize(
    "text",
    [
        "1F9C7BB228560659D4E04368BD16FA48882B9B8F6431CFAB5978B757941F1C18",
        b"1f9c7bb228560659d4e04368bd16fa48882b9b8f6431cfab5978b757941f1c18",
    ],
)
def test_hex_key_accepted(text: str | bytes) -> None:
    assert parse_hex_key(text) == B_PK


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1f9c" * 15 + "1f9", "expected 64 hex characters, got 63"),
        ("", "got 0"),
        ("1f9c" * 16 + "00", "got 66"),
        ("zz" + "1f" * 31, "character 1 is not a hex digit"),
        ("1f 9c" + "1f" * 29 + "1", "character 3 is not a hex digit"),
        ("1f" * 31 + "0é", "character 64"),
    ],
)
def test_hex_key_refused(text: str, message: str) -> None:
    with pytest.raises(KeyFileError, match=message) as info:
        parse_hex_key(text, "PUBLIC_KEY")
    assert "\n" not in str(info.value) and str(info.value).startswith("quicktun PUBLIC_KEY: ")


@pytest.mark.parametrize(
    ("content", "key"),
    [
        (A_SK, A_SK),
        (A_SK.hex().encode(), A_SK),
        (A_SK.hex().encode() + b"\n", A_SK),
        (b"0123456789abcdef0123456789abcdef", b"0123456789abcdef0123456789abcdef"),
    ],  # 32 bytes are raw, even if hex
)
def test_key_file_accepted(content: bytes, key: bytes) -> None:
    assert parse_key_file(content) == key


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "got 0 bytes"),
        (A_SK[:31], "got 31 bytes"),
        (A_SK + b"\n", "got 33 bytes"),
        (A_SK.hex().encode() + b"\r\n", "got 66 bytes"),
        (A_SK.hex().encode() + b"\n\n", "got 66 bytes"),
        (b"g" + A_SK.hex().encode()[1:], "character 1 is not a hex digit"),
    ],
)
def test_key_file_refused(content: bytes, message: str) -> None:
    with pytest.raises(KeyFileError, match=message) as info:
        parse_key_file(content)
    assert "\n" not in str(info.value) and str(info.value).startswith("quicktun PRIVATE_KEY_FILE: ")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120), st.sampled_from(["raw", "nacl0", "nacltai"]))
def test_fuzz_random_datagrams(data: bytes, kind: str) -> None:
    ours: Raw | Nacl0 | NaclTai = NaclTai(B_SK, A_PK, NOW) if kind == "nacltai" else _pair(kind)[0]
    warmup = NaclTai(A_SK, B_PK, NOW).seal(FRAME, NOW) if kind == "nacltai" else _pair(kind)[1].seal(FRAME, NOW)
    assert isinstance(warmup, bytes) and ours.open(warmup, NOW) == FRAME
    before = snapshot(ours)
    result = ours.open(data, NOW)
    if isinstance(result, Drop):
        assert snapshot(ours) == before
    else:
        assert kind == "raw" and result == data


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=len(TAI_CAPTURE) - 1),
    st.integers(min_value=1, max_value=255),
    st.sampled_from(["flip", "cut", "extend"]),
    st.sampled_from(["nacl0", "nacltai"]),
)
def test_fuzz_mutated_captures(index: int, xor: int, how: str, kind: str) -> None:
    capture = TAI_CAPTURE if kind == "nacltai" else NACL0_CAPTURE
    ours: Nacl0 | NaclTai = NaclTai(B_SK, A_PK, NOW) if kind == "nacltai" else Nacl0(B_SK, A_PK)
    index %= len(capture)
    if how == "flip":
        data = capture[:index] + bytes([capture[index] ^ xor]) + capture[index + 1 :]
    elif how == "cut":
        data = capture[:index]
    else:
        data = capture + bytes([xor])
    before = snapshot(ours)
    assert isinstance(ours.open(data, NOW), Drop)
    assert snapshot(ours) == before
    assert ours.open(capture, NOW) in (NACL0_FRAME, TAI_FRAME)


@pytest.mark.parametrize("make", [Raw, lambda: Nacl0(A_SK, B_PK), lambda: NaclTai(A_SK, B_PK, NOW)])
def test_contract(make: Callable[[], Raw | Nacl0 | NaclTai]) -> None:
    assert_contract(make(), FRAME, NOW)
