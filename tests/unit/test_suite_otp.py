"""The otp codec: the wire vector (docs/protocol-otp.md's worked example), the consumption rule, the
receive rules (replay, reflection, halves, truncation, forgery), durability order against a recording
store, exhaustion without a wrap, burning, and garbage as counted drops only."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest
from cryptography.hazmat.primitives.poly1305 import Poly1305
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tapliance.proto.drops import Drop
from tapliance.suites.otp import OVERHEAD, RESERVE_CHUNK, Otp
from tapliance.suites.padstore import MIN_PAD_SIZE, PadError
from tests.unit.legacy_codec import assert_contract, snapshot
from tests.unit.otp_store import MemoryStore

PAD = hashlib.shake_256(b"tapliance otp example pad").digest(MIN_PAD_SIZE)
H = MIN_PAD_SIZE // 2
FRAME = b"\xff" * 6 + bytes.fromhex("020000000001 88b5") + b"hello!"  # 20 bytes
# the client's first datagram: be64(16) || c || t  (docs/protocol-otp.md, "Worked example")
VECTOR = bytes.fromhex("0000000000000010 dc99b28e9e0dcde9e9ee60cbb60436ed54fb38a0 7858dc26240a0f38518c310401667d03")


def pair(pad: bytes = PAD) -> tuple[Otp, Otp]:
    """(client, server) on the same pad bytes, each with its own store."""
    return Otp(MemoryStore(pad), server=False), Otp(MemoryStore(pad, server=True), server=True)


def sealed(codec: Otp, frame: bytes) -> bytes:
    out = codec.seal(frame, 0.0)
    assert isinstance(out, bytes), out
    return out


def state(c: Otp) -> Any:
    """Everything a drop must leave alone (the store's call log aside: reads are not state)."""
    s = c.store
    assert isinstance(s, MemoryStore)
    return snapshot({k: v for k, v in vars(c).items() if k != "store"}), bytes(s.pad), s.reserved, s.mark


def test_vector_and_its_independent_computation() -> None:
    client, server = pair()
    assert sealed(client, FRAME) == VECTOR
    o, c, t = VECTOR[:8], VECTOR[8:-16], VECTOR[-16:]
    assert int.from_bytes(o, "big") == 16  # the client half's first data offset: [0, 16) is its r
    assert c == bytes(x ^ y for x, y in zip(FRAME, PAD[32:52], strict=True))
    assert t == Poly1305.generate_tag(PAD[0:16] + PAD[16:32], o + c)
    assert server.open(VECTOR, 0.0) == FRAME


def test_server_vector_uses_the_second_half() -> None:
    client, server = pair()
    d = sealed(server, FRAME)
    o = H + 16
    assert d[:8] == o.to_bytes(8, "big")
    assert d[-16:] == Poly1305.generate_tag(PAD[H : H + 16] + PAD[o : o + 16], d[:-16])
    assert client.open(d, 0.0) == FRAME


def test_contract_and_mtu() -> None:
    client, _ = pair()
    assert_contract(client, FRAME, 0.0)
    assert Otp.tap_mtu(1500) == 1434 and Otp.insecure is None and OVERHEAD == 24


def test_consumption_rule_each_frame_uses_16_plus_its_length() -> None:
    client, server = pair()
    o = 16
    for n in (14, 60, 1514, 0, 1):
        d = sealed(client, bytes(n))
        assert int.from_bytes(d[:8], "big") == o and len(d) == n + OVERHEAD
        assert server.open(d, 0.0) == bytes(n)
        o += 16 + n
    assert client.tx_next == o and server.rx_high == o
    assert client.send_left == H - o and server.receive_left == H - o


def test_a_replay_and_a_reflection_are_dropped() -> None:
    client, server = pair()
    d = sealed(client, FRAME)
    assert server.open(d, 0.0) == FRAME
    assert server.open(d, 0.0) is Drop.LEGACY_REPLAY
    assert client.open(d, 0.0) is Drop.LEGACY_REFLECTED  # our own datagram, sent back


def test_reordering_within_the_window_and_the_floor() -> None:
    client, server = pair()
    ds = [sealed(client, bytes([i]) * 20) for i in range(70)]
    for d in reversed(ds[:64]):
        assert isinstance(server.open(d, 0.0), bytes)
    for d in ds[64:66]:
        assert isinstance(server.open(d, 0.0), bytes)  # the oldest ranges are forgotten: the floor rises
    assert server.open(ds[0], 0.0) is Drop.LEGACY_REPLAY and server.open(ds[1], 0.0) is Drop.LEGACY_REPLAY


def _forge(o: int, body: bytes, key: bytes = bytes(32)) -> bytes:
    head = o.to_bytes(8, "big")
    return head + body + Poly1305.generate_tag(key, head + body)


@pytest.mark.parametrize(
    ("o", "n", "why"),
    [
        (H, 20, "the far end's r"),
        (2 * H - 35, 20, "one byte past the end of its half"),
        (2 * H, 0, "past the pad"),
        ((1 << 64) - 1, 20, "the largest offset"),
    ],
)
def test_ranges_outside_the_far_ends_half(o: int, n: int, why: str) -> None:
    client, _ = pair()
    assert client.open(_forge(o, bytes(n)), 0.0) is Drop.OTP_OUT_OF_HALF, why


def test_truncated_and_short() -> None:
    _, server = pair()
    for cut in range(1, len(VECTOR) - OVERHEAD + 1):
        assert server.open(VECTOR[:-cut], 0.0) is Drop.LEGACY_AUTH
    for n in range(OVERHEAD):
        assert server.open(VECTOR[:n], 0.0) is Drop.LEGACY_SHORT


def test_flipping_any_bit_is_a_drop_and_changes_nothing() -> None:
    _, server = pair()
    before = state(server)
    for i in range(len(VECTOR) * 8):
        d = bytearray(VECTOR)
        d[i // 8] ^= 0x80 >> (i % 8)
        assert isinstance(server.open(bytes(d), 0.0), Drop), i
    assert state(server) == before
    assert server.open(VECTOR, 0.0) == FRAME


def test_known_keystream_cannot_key_a_forgery() -> None:
    """Why r is not fresh too: a forger who suppressed a datagram and knows its plaintext knows its
    keystream, and may claim an offset inside its range. Those bytes as s are worthless without r."""
    client, server = pair()
    frame = bytes(range(200))  # known to the forger
    d = sealed(client, frame)  # ... who keeps it from the server
    o = int.from_bytes(d[:8], "big")
    known = bytes(x ^ y for x, y in zip(frame, d[8:-16], strict=True))  # pad[o+16 : o+216]
    o2, evil = o + 16, b"\x02" * 100  # s' = known[0:16], keystream known[16:116]
    body = bytes(x ^ y for x, y in zip(evil, known[16:116], strict=True))
    for r_guess in (bytes(16), known[100:116]):
        assert server.open(_forge(o2, body, r_guess + known[:16]), 0.0) is Drop.LEGACY_AUTH
    # with the direction's r, which no datagram reveals, the forgery would pass: r is what protects
    assert server.open(_forge(o2, body, PAD[0:16] + known[:16]), 0.0) == evil


def test_both_ends_in_one_half_stop_sending() -> None:
    a, b = Otp(MemoryStore(PAD), server=False), Otp(MemoryStore(PAD), server=False)  # server set alike
    da = [sealed(a, bytes(40)) for _ in range(3)]
    sealed(b, bytes(40))
    assert b.open(da[0], 0.0) is Drop.LEGACY_REFLECTED  # below b's next: looks like b's own
    assert b.open(da[2], 0.0) is Drop.OTP_CONFLICT  # authentic, past what b sent: someone else uses our half
    assert b.seal(bytes(40), 0.0) is Drop.OTP_CONFLICT
    assert b.status()["state"] == "stopped: otp_conflict" and ("error", b.stop_reason) in b.notices
    forged = _forge(b.tx_next + 500, bytes(40))
    assert a.open(forged, 0.0) is Drop.LEGACY_AUTH and a.stopped is None  # a forger cannot stop us


def test_reservation_is_durable_before_the_bytes_are_used() -> None:
    store = MemoryStore(hashlib.shake_256(b"big").digest(8 << 20))
    client = Otp(store, server=False)
    store.calls.clear()
    for i in range(2000):
        sealed(client, bytes(1000 + i % 500))
    reserved = store.send_start
    for call in store.calls:
        if call[0] == "reserve":
            reserved = int(call[1])  # type: ignore[call-overload]
        elif call[0] == "read":
            _, o, n = call
            assert o + n <= reserved, "pad read (used) past the durable reservation"  # type: ignore[operator]
    reserves = [c for c in store.calls if c[0] == "reserve"]
    assert len(reserves) == client.tx_next // RESERVE_CHUNK + 1  # one fsync per chunk, not per datagram


def test_a_crash_never_reuses_a_send_offset() -> None:
    store = MemoryStore(hashlib.shake_256(b"big").digest(8 << 20))
    first = Otp(store, server=False)
    used = [int.from_bytes(sealed(first, bytes(1400))[:8], "big") for _ in range(1000)]
    second = Otp(store.restarted(server=False), server=False)  # kill -9: no close
    again = [int.from_bytes(sealed(second, bytes(1400))[:8], "big") for _ in range(10)]
    assert min(again) >= store.reserved > max(used) + 1416
    assert store.reserved - (max(used) + 1416) <= RESERVE_CHUNK  # at most one chunk wasted


def test_a_clean_close_writes_the_exact_offsets() -> None:
    client, server = pair()
    for _ in range(5):
        assert isinstance(server.open(sealed(client, FRAME), 0.0), bytes)
    client.close()
    server.close()
    assert client.store.closed_at == client.tx_next  # type: ignore[attr-defined]
    assert server.store.mark == server.rx_high  # type: ignore[attr-defined]


def test_exhaustion_is_a_counted_stop_never_a_wrap() -> None:
    client, server = pair()
    offsets = []
    while (d := client.seal(bytes(1000), 0.0)) is not Drop.OTP_PAD_EXHAUSTED:
        assert isinstance(d, bytes) and server.open(d, 0.0) == bytes(1000)
        offsets.append(int.from_bytes(d[:8], "big"))
    assert offsets == sorted(offsets) and offsets[-1] + 1016 <= H
    assert client.send_left < 1016
    assert client.seal(b"x" * 14, 0.0) is Drop.OTP_PAD_EXHAUSTED  # stopped: not even a small frame
    assert client.status()["state"] == "pad exhausted"
    levels = [lvl for lvl, msg in client.notices if "exhausted" in msg or "low" in msg]
    assert levels == ["warning", "error"]  # pad_warn crossed once, the stop once
    assert [lvl for lvl, msg in server.notices if "low" in msg] == ["warning"]


def test_burning_zeroes_exactly_the_used_ranges() -> None:
    client, server = pair()
    cs, ss = client.store, server.store
    assert isinstance(cs, MemoryStore) and isinstance(ss, MemoryStore)
    cs.burning = ss.burning = True
    ds = [sealed(client, bytes([i + 1]) * (50 + i)) for i in range(80)]
    lost = ds[30]
    for d in ds:
        if d is not lost:
            server.open(d, 0.0)
    end = client.tx_next
    assert cs.pad[16:end] == bytes(end - 16) and cs.pad[end:] == PAD[end:] and cs.pad[:16] == PAD[:16]
    assert ss.pad == PAD  # received pad waits for the durable receive mark
    server.close()  # the mark written exactly; everything below it burned, the lost datagram's range too
    assert ss.pad[16:end] == bytes(end - 16) and ss.pad[:16] == PAD[:16] and ss.pad[end:] == PAD[end:]


def test_a_rolled_back_state_over_burned_pad_stops_sending() -> None:
    store = MemoryStore(PAD)
    store.burning = True
    first = Otp(store, server=False)
    sealed(first, FRAME)
    rolled_back = MemoryStore(bytes(store.pad))  # the state file of before, the pad burned since
    again = Otp(rolled_back, server=False)
    assert again.seal(FRAME, 0.0) is Drop.OTP_PAD_BURNED and again.seal(FRAME, 0.0) is Drop.OTP_PAD_BURNED


def test_a_store_that_cannot_write_stops_sending() -> None:
    client, _ = pair()
    client.store.fail.add("reserve")  # type: ignore[attr-defined]
    assert client.seal(FRAME, 0.0) is Drop.OTP_STORE_ERROR
    assert client.status()["state"] == "stopped: otp_store_error" and "reserve failed" in client.stop_reason
    assert [c for c in client.store.calls if c[0] == "read" and c[1] == 16] == []  # type: ignore[attr-defined]


def test_unusable_pads_and_states() -> None:
    with pytest.raises(PadError, match="too small"):
        Otp(MemoryStore(PAD[: MIN_PAD_SIZE - 1]), server=False)
    with pytest.raises(PadError, match="zeros"):
        Otp(MemoryStore(bytes(MIN_PAD_SIZE)), server=False)
    with pytest.raises(PadError, match="outside this end's half"):
        Otp(MemoryStore(PAD, send_start=H + 16), server=False)


def _established() -> Otp:
    client, server = pair()
    for i in range(3):
        server.open(sealed(client, bytes([i]) * 60), 0.0)
    return server


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=1600))
def test_random_datagrams_are_drops(data: bytes) -> None:
    server = _established()
    before = state(server)
    assert isinstance(server.open(data, 0.0), Drop)
    assert state(server) == before


@settings(max_examples=600, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.sampled_from(["flip", "truncate", "extend", "offset"]))
def test_mutated_genuine_datagrams_are_drops(seed: int, how: str) -> None:
    client, server = pair()
    for i in range(3):
        server.open(sealed(client, bytes([i]) * 60), 0.0)
    rnd = random.Random(seed)
    frame = rnd.randbytes(rnd.randint(0, 1500))
    genuine = sealed(client, frame)  # not yet delivered
    d = bytearray(genuine)
    if how == "flip":
        for _ in range(rnd.randint(1, 4)):
            d[rnd.randrange(len(d))] ^= 1 << rnd.randrange(8)
    elif how == "truncate":
        d = d[: rnd.randrange(len(d))]
    elif how == "extend":
        d += rnd.randbytes(rnd.randint(1, 64))
    else:
        d[:8] = (int.from_bytes(d[:8], "big") + rnd.choice([-17, -1, 1, 16, 4096, H])).to_bytes(8, "big")
    if bytes(d) == genuine:
        return
    before = state(server)
    assert isinstance(server.open(bytes(d), 0.0), Drop)
    assert state(server) == before
    assert server.open(genuine, 0.0) == frame  # the genuine one still opens afterwards
