"""The native peer state table: every (state, input) pair either has a transition or is the error path,
and in random runs of a peer pair the state always says what the keypair slots and handshake hold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapliance.proto.native.peer import Peer
from tapliance.proto.native.state import (
    HAS_CURRENT,
    INITIATING,
    REPORTED_DOWN,
    TRANSITIONS,
    Input,
    PeerState,
    PeerStateError,
    transition,
)
from tests.unit.pair import MAC_A, MAC_B, Host, Net, frame, pair, spec


@given(st.sampled_from(PeerState), st.sampled_from(Input))
def test_every_state_and_input_has_a_transition_or_raises(state: PeerState, event: Input) -> None:
    if (state, event) in TRANSITIONS:
        assert transition(state, event) is TRANSITIONS[state, event]
    else:
        with pytest.raises(PeerStateError, match=state.name):
            transition(state, event)


def test_every_state_is_reachable_and_can_be_left() -> None:
    reached = {PeerState.IDLE} | set(TRANSITIONS.values())
    assert reached == set(PeerState)
    assert {s for s, _ in TRANSITIONS} == set(PeerState)


def test_status_words() -> None:
    assert {s.shown for s in PeerState} == {"idle", "handshaking", "up", "down"}


def consistent(p: Peer) -> None:
    """What the state claims about the peer's fields."""
    s = p.state
    assert (p.current is not None) == (s in HAS_CURRENT), s
    assert (p.handshake is not None) == (s in INITIATING), s
    if s in (PeerState.IDLE, PeerState.DOWN):
        assert p.current is p.previous is p.next is None, s
    if s is PeerState.RESPONDED:
        assert p.next is not None and p.current is None
    assert s in REPORTED_DOWN or s.shown != "down"


OPS = st.sampled_from(
    [
        "a_frame",
        "b_frame",
        "both_frames",
        "advance_1",
        "advance_6",
        "advance_60",
        "advance_100",
        "lose_next",
        "restart_a",
        "restart_b",
        "b_leaves",
        "b_returns",
    ]
)
SEEN: set[tuple[PeerState, Input]] = set()  # (state, input) pairs the random runs went through
ENTERED: set[PeerState] = set()


@pytest.fixture(autouse=True)
def _record_transitions(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Peer.transition

    def recording(self: Peer, event: Input) -> PeerState:
        SEEN.add((self.state, event))
        old = real(self, event)
        ENTERED.add(self.state)
        return old

    monkeypatch.setattr(Peer, "transition", recording)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(OPS, min_size=1, max_size=40), st.integers(0, 2**16))
def test_state_matches_fields_through_random_runs(ops: list[str], seed: int) -> None:
    net, a, b = pair(Net(seed), keepalive=5, b_endpoint=True, rekey_after_seconds=20.0)
    away: dict[tuple[str, int], Host] = {}
    lose = [False]
    net.filter = lambda d, s, t: not (lose[0] and not lose.__setitem__(0, False))  # drop one datagram
    for op in ops:
        if op == "a_frame":
            net.send_frame(a, frame(MAC_B, MAC_A, b"ping"))
        elif op == "b_frame":
            net.send_frame(b, frame(MAC_A, MAC_B, b"pong"))
        elif op == "both_frames":  # both send before either receives: crossed initiations
            net.send_frame(a, frame(MAC_B, MAC_A, b"ping"))
            net.send_frame(b, frame(MAC_A, MAC_B, b"pong"))
        elif op.startswith("advance_"):
            net.advance(float(op.split("_")[1]), step=1.0)
        elif op == "lose_next":
            lose[0] = True
        elif op == "restart_a":
            net.start(a, [spec(b.public, "b", b.addr, None, 5)], rekey_after_seconds=20.0)
        elif op == "restart_b":
            net.start(b, [spec(a.public, "a", a.addr, None, 5)], rekey_after_seconds=20.0)
        elif op == "b_leaves" and b.addr in net.hosts:
            away[b.addr] = net.hosts.pop(b.addr)
        elif op == "b_returns" and away:
            net.hosts.update(away)
            away.clear()
        net.run()
        for h in (a, b):
            for p in h.p.ports:
                consistent(p)


def test_random_runs_went_through_every_state() -> None:
    """Runs after the random-run test (file order): its derandomized examples visit every state."""
    assert ENTERED | {state for state, _ in SEEN} == set(PeerState)
    assert len(SEEN) >= 0.7 * len(TRANSITIONS), sorted((s.name, i.name) for s, i in set(TRANSITIONS) - SEEN)


def test_outage_while_up_is_reported_once_and_heals() -> None:
    """UP -> (dead-peer detection) REKEYING -> (90 s) DOWN, reported once -> RETRYING -> UP when it returns."""
    net, a, b = pair(keepalive=5)
    net.advance(1)
    pa = a.p.ports[0]
    away = net.hosts.pop(b.addr)
    net.advance(20, step=1.0)
    assert pa.state is PeerState.REKEYING
    net.advance(100, step=1.0)
    assert pa.state is PeerState.RETRYING
    net.advance(100, step=1.0)
    assert [type(e).__name__ for e in a.n.events].count("PeerDown") == 1
    net.hosts[b.addr] = away
    net.advance(6, step=1.0)
    assert pa.state is PeerState.UP


def test_a_peer_that_gave_up_answers_when_the_other_side_comes_back() -> None:
    """DOWN (no keepalive, so no retries) -> the far end initiates -> RESPONDED -> its data -> UP."""
    net, a, b = pair(keepalive=0, b_endpoint=True)
    net.send_frame(a, frame(MAC_B, MAC_A, b"hello"))
    net.run()
    away = net.hosts.pop(b.addr)
    net.send_frame(a, frame(MAC_B, MAC_A, b"anyone?"))
    net.advance(120, step=1.0)
    pa = a.p.ports[0]
    assert pa.state is PeerState.DOWN
    net.hosts[b.addr] = away
    net.advance(200, step=1.0)  # b's keys expire; its next frame starts a handshake
    net.send_frame(b, frame(MAC_A, MAC_B, b"back"))
    net.run()
    assert pa.state is PeerState.UP and [f[14:] for f in a.tap_out][-1] == b"back"


def test_a_retransmitted_initiation_replaces_the_unconfirmed_keypair() -> None:
    """RESPONDED + another initiation (our response was lost) -> RESPONDED with the new keypair -> UP."""
    net, a, b = pair(keepalive=0)
    lost = [True]

    def lose_first_response(d: bytes, s: object, t: object) -> bool:
        if d[0] == 2 and lost[0]:
            lost[0] = False
            return False
        return True

    net.filter = lose_first_response
    net.send_frame(a, frame(MAC_B, MAC_A, b"x"))
    net.run()
    pb = b.p.ports[0]
    assert pb.state is PeerState.RESPONDED
    first = pb.next
    net.advance(6, step=1.0)  # a retransmits
    assert pb.state is PeerState.UP and pb.current is not first and b.tap_out
