"""The published test vectors of the native protocol (docs/protocol-vectors.json, described in
docs/protocol.md): fixed keys, a fixed randomness stream and a fixed clock per run; every message type, a
frame in one datagram, a fragmented frame, a frame with a virtio-net header, AES-256-GCM data and a
pre-shared key. ``published()`` recomputes them with today's code; test_wire_vectors.py holds the file to
it. ``python -m tests.unit.protocol_vectors`` rewrites the file (only after a deliberate change of the wire
format)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tapliance.proto.native.primitives import dh_public
from tests.unit.wirevectors import (
    A_ADDR,
    A_PRIVATE,
    B_ADDR,
    B_PRIVATE,
    MAC_A,
    MAC_B,
    START,
    UNIX_OFFSET,
    _deliver,
    _exhaust,
    _frame,
    _Side,
)

FILE = Path(__file__).resolve().parents[2] / "docs" / "protocol-vectors.json"
PSK = bytes(range(100, 132))


def _msg(name: str, side: str, data: bytes, now: float, note: str) -> dict[str, Any]:
    return {"name": name, "from": side, "monotonic": now, "hex": data.hex(), "note": note}


def _pair(run: str, **kw: Any) -> tuple[_Side, _Side]:
    a = _Side("a", A_PRIVATE, B_PRIVATE, B_ADDR, seed=f"rng-{run}-a".encode(), **kw)
    b = _Side("b", B_PRIVATE, A_PRIVATE, None, seed=f"rng-{run}-b".encode(), **kw)
    return a, b


def _handshake(a: _Side, b: _Side, first: bytes, now: float) -> tuple[bytes, bytes, list[bytes]]:
    log: list[dict[str, Any]] = []
    a.node.on_frame(first, now)
    init = a.drain(log)
    _deliver(b, init, A_ADDR, now)
    resp = b.drain(log)
    _deliver(a, resp, B_ADDR, now)
    return init[0], resp[0], a.drain(log)


def _run(name: str, a: _Side, b: _Side, msgs: list[dict[str, Any]], frames: dict[str, str]) -> dict[str, Any]:
    return {
        "seeds": {"a": a.random.seed.decode(), "b": b.random.seed.decode()},
        "draws": {"a": a.random.draws, "b": b.random.draws},
        "frames": frames,
        "messages": msgs,
    }


def plain() -> dict[str, Any]:
    """Peers without TAP offloads: handshake (caps 0), a small frame, a fragmented frame, a keepalive."""
    a, b = _pair("plain")
    small, big = _frame(MAC_B, MAC_A, b"one datagram"), _frame(MAC_B, MAC_A, bytes(range(256)) * 12)
    init, resp, data = _handshake(a, b, small, START)
    log: list[dict[str, Any]] = []
    a.node.on_frame(big, START)
    frags = a.drain(log)
    a.node.on_timer(START + 11.0)
    keepalive = a.drain(log)
    msgs = [
        _msg("initiation", "a", init, START, "caps 0"),
        _msg("response", "b", resp, START, "caps 0"),
        _msg("data_one_datagram", "a", data[0], START, "frames.small, counter 0"),
    ]
    msgs += [
        _msg(f"data_fragment_{i}", "a", d, START, f"frames.fragmented, fragment {i} of 3, counter {1 + i}")
        for i, d in enumerate(frags)
    ]
    msgs.append(
        _msg(
            "keepalive",
            "a",
            keepalive[0],
            START + 11.0,
            "due 10 s after the last send (1010.0); the clock jumped to 1011.0; counter 4",
        )
    )
    return _run("plain", a, b, msgs, {"small": small.hex(), "fragmented": big.hex()})


def offload() -> dict[str, Any]:
    """Peers whose TAPs have offloads: both announce CAP_VNET; a frame held before then goes plain."""
    a, b = _pair("offload", vnet=True)
    tap_frame = bytes(10) + _frame(MAC_B, MAC_A, b"with a virtio-net header")
    init, resp, queued = _handshake(a, b, tap_frame, START)
    a.node.on_frame(tap_frame, START)
    data = a.drain([])
    msgs = [
        _msg("initiation", "a", init, START, "caps 1 (CAP_VNET)"),
        _msg("response", "b", resp, START, "caps 1 (CAP_VNET)"),
        _msg(
            "data_queued_before_caps",
            "a",
            queued[0],
            START,
            "held before B's caps were known: the header removed (tap_frame[10:]), flags 0",
        ),
        _msg("data_vnet", "a", data[0], START, "tap_frame as it is, flags 1"),
    ]
    return {"caps": 1, **_run("offload", a, b, msgs, {"tap_frame": tap_frame.hex()})}


def suite_and_psk(run: str, **kw: Any) -> dict[str, Any]:
    a, b = _pair(run, **kw)
    small = _frame(MAC_B, MAC_A, f"{run} data".encode())
    init, resp, data = _handshake(a, b, small, START)
    return _run(
        run,
        a,
        b,
        [
            _msg("initiation", "a", init, START, ""),
            _msg("response", "b", resp, START, ""),
            _msg("data_one_datagram", "a", data[0], START, "frames.small"),
        ],
        {"small": small.hex()},
    )


def cookie() -> dict[str, Any]:
    """B processes one handshake message per second: A's retransmission within it gets a cookie reply."""
    a, b = _pair("cookie", handshake_rate=1)
    log: list[dict[str, Any]] = []
    now = START
    a.node.on_frame(_frame(MAC_B, MAC_A, b"x"), now)
    first = a.drain(log)
    _deliver(b, first, A_ADDR, now)
    lost = b.drain(log)  # its response is lost
    now += 5.5
    a.node.on_timer(now)
    again = a.drain(log)
    _exhaust(b, now)
    _deliver(b, again, A_ADDR, now)
    reply = b.drain(log)
    _deliver(a, reply, B_ADDR, now)
    now2 = now + 5.5
    a.node.on_timer(now2)
    mac2 = a.drain(log)
    msgs = [
        _msg("initiation", "a", first[0], START, "answered by a response that is lost"),
        _msg("response_lost", "b", lost[0], START, "never reaches A"),
        _msg("initiation_retransmitted", "a", again[0], now, "5.5 s later (the timers run in 0.5 s steps)"),
        _msg(
            "cookie_reply",
            "b",
            reply[0],
            now,
            "B's token bucket was emptied just before (as a flood "
            "would): a cookie for A's address under a random 24-byte nonce (B's draw 3), bound to the mac1 of "
            "initiation_retransmitted",
        ),
        _msg(
            "initiation_with_mac2",
            "a",
            mac2[0],
            now2,
            "the next retransmission, a new initiation, with mac2 = MAC(cookie, msg[0:132])",
        ),
    ]
    return _run("cookie", a, b, msgs, {})


def published() -> dict[str, Any]:
    return {
        "about": "tapliance native protocol v1 test vectors; see docs/protocol.md, section Test vectors",
        "keys": {
            "a_private": A_PRIVATE.hex(),
            "a_public": dh_public(A_PRIVATE).hex(),
            "b_private": B_PRIVATE.hex(),
            "b_public": dh_public(B_PRIVATE).hex(),
        },
        "common": {
            "randomness": "each call for n <= 32 bytes is the first n bytes of SHA-256(seed || le64(k)), k = 0, 1, "
            "... counting that side's calls; 'draws' lists every call of the run in order, including those that "
            "put nothing on the wire (draw 0 is the side's cookie secret)",
            "clock": "monotonic seconds as given per message; Unix time = monotonic + unix_offset",
            "unix_offset": UNIX_OFFSET,
            "a_addr": list(A_ADDR),
            "b_addr": list(B_ADDR),
            "underlay_mtu": 1500,
            "suite": "chacha20-poly1305 (suite_id 1) unless the run says otherwise",
            "caps": "0 unless the run says otherwise",
            "psk": "none (32 zero bytes) unless the run says otherwise",
            "tap": "frames are the TAP frames A sent (with a virtio-net header where the run has offloads)",
        },
        "runs": {
            "plain": plain(),
            "offload": offload(),
            "aes": {"suite": "aes-256-gcm", "suite_id": 2, **suite_and_psk("aes", suite="aes-256-gcm")},
            "psk": {"psk": PSK.hex(), **suite_and_psk("psk", psk=PSK)},
            "cookie": {"handshake_rate": 1, **cookie()},
        },
    }


if __name__ == "__main__":
    FILE.write_text(json.dumps(published(), indent=1) + "\n")
    print(f"wrote {FILE}")
