"""Fuzzing the QuickTun TCP stream parser: whatever bytes arrive, in whatever pieces, a connection either
goes on or is closed with a counted reason; nothing raises, and a broken connection never affects
another."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tapliance.proto.qtcp import wire as Q
from tapliance.proto.qtcp.policy import Policy
from tapliance.proto.qtcp.protocol import ACCEPTED
from tests.unit.qtcp_pair import Stream

VALID_START = Q.PREAMBLE + Q.frame(Q.tunnel_options(Q.OPT_ENCRYPTION), True)
commands = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 81, 200])


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """Mostly well-framed messages with random (often wrong) arguments; sometimes raw junk."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=64))
    code = draw(commands)
    args = draw(st.binary(max_size=80))
    if code in (14, 15) and draw(st.booleans()):
        args = bytes([min(255, len(args))]) + args  # plausible-looking nesting
    return Q.frame(bytes([code]) + args, control=draw(st.booleans()))


def _feed(s: Stream, data: bytes, cuts: list[int]) -> None:
    i = 0
    for n in [*cuts, len(data)]:
        s.server.proto.on_stream(ACCEPTED, data[i : i + max(1, n)], s.now)
        i += max(1, n)
        if i >= len(data):
            break


@settings(max_examples=300, deadline=None)
@given(st.lists(messages(), max_size=12), st.lists(st.integers(1, 40), max_size=20), st.booleans())
def test_server_survives_any_byte_stream(msgs: list[bytes], cuts: list[int], preamble: bool) -> None:
    s = Stream(Policy(), Policy(), server_knows_key=True, seed=b"fuzz")
    data = (VALID_START if preamble else b"") + b"".join(msgs)
    _feed(s, data, cuts)  # must not raise
    proto = s.server.proto
    if proto.close:
        assert sum(proto.drops.values()) >= 1  # every close is counted under a reason
    s.server.proto.on_timer(s.now + 20)  # timers on whatever state is left: must not raise
    s.server.proto.take(ACCEPTED, 1 << 16)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=400), st.integers(0, 200))
def test_a_tunnel_survives_junk_spliced_into_the_other_direction(junk: bytes, at: int) -> None:
    """A working tunnel whose server receives junk on a second connection: the first keeps carrying."""
    s = Stream(Policy(), Policy(), server_knows_key=True, seed=b"fuzz2")
    s.pump()
    s.server.proto.on_connected(ACCEPTED + 1, ("192.0.2.99", 1), s.now)
    s.server.proto.on_stream(ACCEPTED + 1, junk[:at] + junk[at:], s.now)
    frame = bytes.fromhex("02aabbccddee02112233445508004500") + bytes(50)
    s.client.node.on_frame(frame, s.now)
    s.pump()
    assert s.server.tap == [frame]


def test_nesting_deeper_than_ten_closes_the_connection() -> None:
    inner = Q.command(Q.START_TUNNEL)
    for _ in range(11):
        inner = Q.padding(inner, 0)
    s = Stream(Policy(encryption="off"), Policy(encryption="off"), server_knows_key=False, seed=b"n")
    s.server.proto.on_stream(ACCEPTED, Q.PREAMBLE + Q.frame(inner, True), s.now)
    assert s.server.proto.close == [ACCEPTED] and s.server.proto.drops.get("tcp_bad_message") == 1
