"""OTPTunnel codec: the captured datagram, receive rules (parity, offset window, restarts), pad limits, fuzz."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapliance.proto.drops import Drop
from tapliance.suites.otptunnel import WINDOW_RANGES, OtpTunnel, PadError, check_pad, pad_from_bytes
from tests.unit.legacy_codec import assert_contract, snapshot

# Seed notes 1.7: the server (odd offsets) sent offset 1; pad[0:160] of the shared pad file.
PAD = bytes.fromhex(
    "9009082e16b1c5c6a7d02689206a694c8f7e4c0cc923bddb47155147b7fdcd8c2578e1fa470418a772abcd16edf53bfa9d35b5d2"
    "1fdcd78d0b4fb8edc5c9b48f926df31e30f1d1203a1ebe541fc03aa4fae863568b6ce7beaaf3e25cef76d1cc59e7ff039799e961"
    "ffab1dad29500f81a5ebd0459b8470d605fef42862a6f897bec3eb360a093e13ad813e4040d1928cd1779da65c10adc8e98c7395"
    "ab0f3dfe"
)
CAPTURE = bytes.fromhex(
    "0b2eb1c6d080ece71a83a3801d41fd8d70fa02a3ab147351515d5cd64524c98e6f1ef1201e5dca6de85f1f28bee7e1fabe9bea6d"
    "913bcf55374a000000000001"
)
FRAME = bytes.fromhex("02000000000986ab648f805b0806000108000604000286ab648f805b0ac900010200000000090ac90009")

NOW = 1_800_000_000.0
BIG_PAD = hashlib.shake_256(b"pad").digest(200_000)
SMALL = bytes(range(20))


def test_capture_decodes() -> None:
    assert len(PAD) == 160
    assert OtpTunnel(pad_from_bytes(PAD), server=False).open(CAPTURE, NOW) == FRAME


def test_capture_reproduced_byte_for_byte() -> None:
    sender = OtpTunnel(pad_from_bytes(PAD), server=True)
    assert sender.seal(FRAME, NOW) == CAPTURE
    assert sender.seek == 1 + 2 * (len(FRAME) + 16)


def test_mtu_and_insecure() -> None:
    assert OtpTunnel.tap_mtu(1500) == 1436 and OtpTunnel.tap_mtu(1500, ipv6=True) == 1416
    assert OtpTunnel.insecure and "MD5" in OtpTunnel.insecure and "restart" in OtpTunnel.insecure


def _server_datagrams(n: int, start: int = 1) -> list[bytes]:
    sender = OtpTunnel(pad_from_bytes(BIG_PAD), server=True, start_seek=start)
    out = []
    for i in range(n):
        datagram = sender.seal(SMALL + bytes([i]), NOW)
        assert isinstance(datagram, bytes)
        out.append(datagram)
    return out


def _forge(frame: bytes, s: int) -> bytes:
    """What anyone who knows the pad bytes at s (e.g. from a known plaintext) can send: the MD5 is unkeyed."""
    m = frame + hashlib.md5(frame).digest()
    return bytes(b ^ BIG_PAD[s + 2 * i] for i, b in enumerate(m)) + s.to_bytes(6, "big")


def _client_datagram() -> bytes:
    out = OtpTunnel(pad_from_bytes(BIG_PAD), server=False).seal(SMALL, NOW)
    assert isinstance(out, bytes)
    return out


def _reordered() -> list[bytes]:
    grams = _server_datagrams(3)
    return [grams[0], grams[2], grams[1]]


def _flipped(datagram: bytes, index: int) -> bytes:
    return datagram[:index] + bytes([datagram[index] ^ 1]) + datagram[index + 1 :]


Rows = Callable[[], list[bytes]]
RULES: list[tuple[str, Rows, bytes | Drop]] = [
    ("valid", lambda: _server_datagrams(1), SMALL + b"\x00"),
    ("short", lambda: [_server_datagrams(1)[0][:21]], Drop.LEGACY_SHORT),
    ("empty frame (22 bytes)", lambda: [_forge(b"", 1)], b""),
    ("our parity: our own datagram reflected", lambda: [_client_datagram()], Drop.LEGACY_REFLECTED),
    ("offset past the pad", lambda: [_forge(SMALL, 1)[:-6] + (len(BIG_PAD) + 1).to_bytes(6, "big")], Drop.OTP_PAD_END),
    (
        "range ends past the pad",
        lambda: [_forge(SMALL, 1)[:-6] + (len(BIG_PAD) - 11).to_bytes(6, "big")],
        Drop.OTP_PAD_END,
    ),
    ("replay", lambda: _server_datagrams(1) * 2, Drop.LEGACY_REPLAY),
    ("reordered", _reordered, SMALL + b"\x01"),
    ("shifted into an accepted range", lambda: [_server_datagrams(1)[0], _forge(b"evil" * 5, 3)], Drop.LEGACY_REPLAY),
    (
        "below the window's floor",
        lambda: [*_server_datagrams(WINDOW_RANGES + 2)[1:], _server_datagrams(1)[0]],
        Drop.LEGACY_REPLAY,
    ),
    ("MD5 differs", lambda: [_flipped(_forge(SMALL, 1), 3)], Drop.LEGACY_AUTH),
    ("forgery that beats the original to its offset (unkeyed MD5)", lambda: [_forge(b"evil" * 10, 1)], b"evil" * 10),
    ("far end restarted at offset 1", lambda: [*_server_datagrams(3), _server_datagrams(1)[0]], Drop.LEGACY_REPLAY),
]


@pytest.mark.parametrize(("datagrams", "expected"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_receive_rules(datagrams: Rows, expected: bytes | Drop) -> None:
    ours = OtpTunnel(pad_from_bytes(BIG_PAD), server=False)
    results = [ours.open(d, NOW) for d in datagrams()]
    assert results[-1] == expected
    assert not any(isinstance(r, Drop) for r in results[:-1])


@pytest.mark.parametrize(
    ("quiet", "after", "expected"),
    [(None, 10**6, Drop.LEGACY_REPLAY), (60.0, 10.0, Drop.LEGACY_REPLAY), (60.0, 61.0, SMALL + b"\x00")],
)
def test_restart_accepted_only_after_a_quiet_period_if_configured(
    quiet: float | None, after: float, expected: bytes | Drop
) -> None:
    ours = OtpTunnel(pad_from_bytes(BIG_PAD), server=False, accept_restart_after=quiet)
    first_run = _server_datagrams(3)
    assert all(ours.open(d, NOW) != Drop.LEGACY_REPLAY for d in first_run)
    second_run = _server_datagrams(2)  # the same pad bytes again: what a replay of the first run also is
    assert ours.open(second_run[0], NOW + after) == expected
    if expected == SMALL + b"\x00":
        assert ours.open(second_run[1], NOW + after) == SMALL + b"\x01"  # the window restarted with it
        assert ours.open(first_run[1], NOW + after) is Drop.LEGACY_REPLAY  # overlaps the new run's ranges
        assert ours.open(first_run[2], NOW + after) == SMALL + b"\x02"  # the cost: the old run replays beyond


def test_reset_forgets_the_far_end() -> None:
    ours = OtpTunnel(pad_from_bytes(BIG_PAD), server=False)
    grams = _server_datagrams(2)
    assert ours.open(grams[0], NOW) != Drop.LEGACY_REPLAY and ours.open(grams[0], NOW) is Drop.LEGACY_REPLAY
    ours.reset()
    assert ours.open(grams[0], NOW) == SMALL + b"\x00"


def test_seal_past_the_pad_is_a_drop_and_keeps_the_seek() -> None:
    sender = OtpTunnel(pad_from_bytes(PAD), server=True)
    assert isinstance(sender.seal(FRAME, NOW), bytes) and sender.seek == 117
    assert sender.seal(FRAME, NOW) is Drop.OTP_PAD_END and sender.seek == 117
    assert isinstance(sender.seal(b"x", NOW), bytes) and sender.seek == 117 + 34  # a small one still fits


@pytest.mark.parametrize(
    ("pad_size", "seek", "server", "message"),
    [
        (10, 0, False, "otptunnel pad: 10 bytes cannot carry one datagram from offset 0 \\(needs at least 33\\)"),
        (1000, 1, False, "otptunnel seek 1: a client \\(even\\) offset is needed"),
        (1000, 4, True, "otptunnel seek 4: a server \\(odd\\) offset is needed"),
        (1000, -2, False, "seek -2"),
    ],
)
def test_pad_and_seek_refused(pad_size: int, seek: int, server: bool, message: str) -> None:
    with pytest.raises(PadError, match=message) as info:
        check_pad(pad_size, seek, server)
    assert "\n" not in str(info.value)
    if "seek" in message:
        with pytest.raises(PadError, match=message):
            OtpTunnel(pad_from_bytes(BIG_PAD), server=server, start_seek=seek)


def test_pad_accepted() -> None:
    check_pad(33, 0, False)
    check_pad(34, 1, True)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120), st.integers(min_value=0, max_value=len(BIG_PAD) + 100))
def test_fuzz_random_datagrams(data: bytes, offset: int) -> None:
    ours = OtpTunnel(pad_from_bytes(BIG_PAD), server=False)
    assert ours.open(_server_datagrams(1)[0], NOW) == SMALL + b"\x00"
    before = snapshot(ours)
    for datagram in (data, data + offset.to_bytes(6, "big")):
        assert isinstance(ours.open(datagram, NOW), Drop)
        assert snapshot(ours) == before


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=len(CAPTURE) - 1),
    st.integers(min_value=1, max_value=255),
    st.sampled_from(["flip", "cut", "extend"]),
)
def test_fuzz_mutated_capture(index: int, xor: int, how: str) -> None:
    ours = OtpTunnel(pad_from_bytes(PAD), server=False)
    if how == "flip":
        data = CAPTURE[:index] + bytes([CAPTURE[index] ^ xor]) + CAPTURE[index + 1 :]
    elif how == "cut":
        data = CAPTURE[:index]
    else:
        data = CAPTURE + bytes([xor])
    before = snapshot(ours)
    assert isinstance(ours.open(data, NOW), Drop)
    assert snapshot(ours) == before
    assert ours.open(CAPTURE, NOW) == FRAME


@pytest.mark.parametrize("server", [False, True])
def test_contract(server: bool) -> None:
    assert_contract(OtpTunnel(pad_from_bytes(BIG_PAD), server=server), SMALL, NOW)
