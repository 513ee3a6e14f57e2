"""tinytaptunnel codec: the captured datagram, the receive rules, key files, fuzz."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapliance.proto.drops import Drop
from tapliance.suites import tinytaptunnel as ttt
from tapliance.suites.tinytaptunnel import KeyFileError, TinyTapTunnel, key_file_content, parse_key_file, seal_at
from tests.unit.legacy_codec import assert_contract, snapshot

# Seed notes 1.7: the key file, and the datagram the Go binary sent (an ARP reply).
KEY_FILE = b"wEss4mXF0LasOVS7yqBQEvBUflQ5CWhbbHPHPNXtRao="
FRAME = bytes.fromhex("0200000000092ad52079c40a080600010800060400022ad52079c40a0ac900010200000000090ac90009")
TAG = bytes.fromhex("91c520b6beaf47063b32204c837054418d5997ad59cbf1a4f881e5786f9b1585")
TS = bytes.fromhex("18ea6187748f3c03")
CAPTURE = TAG + TS + FRAME
CAPTURE_NOW = int.from_bytes(TS, "big") / 1e9 + 1.0  # the 3 s age check passes with a "now" 1 s later

NOW = 1_800_000_000.0
KEY = bytes(range(32))


def test_capture_decodes() -> None:
    codec = TinyTapTunnel(parse_key_file(KEY_FILE))
    assert codec.open(CAPTURE, CAPTURE_NOW) == FRAME


def test_capture_reproduced_byte_for_byte() -> None:
    assert seal_at(parse_key_file(KEY_FILE), int.from_bytes(TS, "big"), FRAME) == CAPTURE


def test_seal_stamps_now_and_never_repeats_a_timestamp() -> None:
    codec = TinyTapTunnel(KEY)
    a, b = codec.seal(FRAME, NOW), codec.seal(FRAME, NOW)
    assert isinstance(a, bytes) and isinstance(b, bytes)
    ts_a, ts_b = (int.from_bytes(d[32:40], "big") for d in (a, b))
    assert abs(ts_a - NOW * 1e9) < 1e3 and ts_b == ts_a + 1
    assert a[40:] == FRAME and len(a) == len(FRAME) + TinyTapTunnel.overhead


def test_mtu_and_insecure() -> None:
    assert TinyTapTunnel.tap_mtu(1500) == 1418  # what the original sets
    assert TinyTapTunnel.tap_mtu(1500, ipv6=True) == 1398
    assert TinyTapTunnel.tap_mtu(9000) == 1418  # the far end reads at most 1472 bytes
    assert TinyTapTunnel.insecure and "encryption" in TinyTapTunnel.insecure


def _at(seconds: float) -> Callable[[TinyTapTunnel, TinyTapTunnel], list[bytes]]:
    return lambda ours, theirs: [seal_at(KEY, int((NOW + seconds) * 1e9), FRAME)]


Rows = Callable[[TinyTapTunnel, TinyTapTunnel], list[bytes]]
RULES: list[tuple[str, Rows, bytes | Drop]] = [
    ("valid", _at(0), FRAME),
    ("40 bytes: no frame", lambda o, t: [seal_at(KEY, int(NOW * 1e9), b"")], Drop.LEGACY_SHORT),
    ("truncated header", lambda o, t: [seal_at(KEY, int(NOW * 1e9), FRAME)[:30]], Drop.LEGACY_SHORT),
    ("2.9 s old", _at(-2.9), FRAME),
    ("3.1 s old: stale", _at(-3.1), Drop.TTT_STALE),
    ("59 s ahead: a skewed clock", _at(59), FRAME),
    ("61 s ahead: future", _at(61), Drop.TTT_FUTURE),
    ("replay within 3 s", lambda o, t: [_at(-1)(o, t)[0]] * 2, Drop.LEGACY_REPLAY),
    (
        "same ts, another frame",
        lambda o, t: [seal_at(KEY, int(NOW * 1e9), FRAME), seal_at(KEY, int(NOW * 1e9), FRAME + b"x")],
        FRAME + b"x",
    ),
    ("wrong key", lambda o, t: [seal_at(b"other", int(NOW * 1e9), FRAME)], Drop.LEGACY_AUTH),
    ("frame altered", lambda o, t: [_at(0)(o, t)[0][:-1] + b"\x00"], Drop.LEGACY_AUTH),
    ("last byte cut", lambda o, t: [_at(0)(o, t)[0][:-1]], Drop.LEGACY_AUTH),
    ("our own datagram reflected", lambda o, t: [o.seal(FRAME, NOW)], Drop.LEGACY_REFLECTED),
    ("the far end's, sealed by it", lambda o, t: [t.seal(FRAME, NOW)], FRAME),
]


@pytest.mark.parametrize(("datagrams", "expected"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_receive_rules(datagrams: Rows, expected: bytes | Drop) -> None:
    ours, theirs = TinyTapTunnel(KEY), TinyTapTunnel(KEY)
    results = [ours.open(d, NOW) for d in datagrams(ours, theirs)]
    assert results[-1] == expected
    assert all(r == FRAME or r == FRAME + b"x" for r in results[:-1])


def test_memory_floor_under_pressure(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the tag memory is full, the oldest is evicted and everything at or below it is refused."""
    monkeypatch.setattr(ttt, "MEMORY_TAGS", 4)
    ours = TinyTapTunnel(KEY)
    grams = [seal_at(KEY, int(NOW * 1e9) + i, FRAME) for i in range(6)]
    assert all(ours.open(g, NOW) == FRAME for g in grams[1:])  # five accepted: the first evicted
    assert ours.open(grams[1], NOW) is Drop.LEGACY_REPLAY  # evicted, but at the floor
    assert ours.open(grams[0], NOW) is Drop.LEGACY_REPLAY  # never seen, but below the floor


def test_memory_forgets_after_three_seconds() -> None:
    ours = TinyTapTunnel(KEY)
    first = seal_at(KEY, int(NOW * 1e9), FRAME)
    assert ours.open(first, NOW) == FRAME
    assert ours.open(seal_at(KEY, int((NOW + 3.5) * 1e9), FRAME), NOW + 3.5) == FRAME
    assert ours.open(first, NOW + 3.5) is Drop.TTT_STALE
    assert len(ours._accepted._tags) == 1  # the first tag expired with its 3 s


@pytest.mark.parametrize(
    ("content", "key"),
    [(KEY_FILE, None), (b"  " + KEY_FILE + b"\n\n", None), (b"AQ==", b"\x01"), (b"AAEC\r\nAwQF\n", bytes(range(6)))],
)
def test_key_file_accepted(content: bytes, key: bytes | None) -> None:
    parsed = parse_key_file(content)
    assert parsed == (key if key is not None else parse_key_file(KEY_FILE)) and len(parsed) >= 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty key"),
        (b" \n", "empty key"),
        (b"AQ=", "not padded standard base64"),
        (b"AQ", "not padded standard base64"),
        (b"A*==", "not padded standard base64"),
        (b"wEss4mXF0LasOVS7yqBQEvBUflQ5CWhbbHPHPNXtRao=junk", "not padded standard base64"),
    ],
)
def test_key_file_refused(content: bytes, message: str) -> None:
    with pytest.raises(KeyFileError, match=message) as info:
        parse_key_file(content)
    assert "\n" not in str(info.value) and str(info.value).startswith("tinytaptunnel key file: ")


def test_new_key_file_has_no_newline() -> None:
    content = key_file_content(bytes(32))
    assert len(content) == 44 and not content.endswith(b"\n") and parse_key_file(content) == bytes(32)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_fuzz_random_datagrams(data: bytes) -> None:
    ours = TinyTapTunnel(KEY)
    assert ours.open(seal_at(KEY, int(NOW * 1e9), FRAME), NOW) == FRAME  # some state first
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
    ours = TinyTapTunnel(parse_key_file(KEY_FILE))
    if how == "flip":
        data = CAPTURE[:index] + bytes([CAPTURE[index] ^ xor]) + CAPTURE[index + 1 :]
    elif how == "cut":
        data = CAPTURE[:index]
    else:
        data = CAPTURE + bytes([xor])
    before = snapshot(ours)
    assert isinstance(ours.open(data, CAPTURE_NOW), Drop)
    assert snapshot(ours) == before
    assert ours.open(CAPTURE, CAPTURE_NOW) == FRAME


def test_contract() -> None:
    assert_contract(TinyTapTunnel(KEY), FRAME, NOW)
