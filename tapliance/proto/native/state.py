"""A native peer's session state: one table of states and the transitions between them.

After h11's ``_state.py``: every change of state is a lookup in ``TRANSITIONS``, and a lookup that
misses raises :class:`PeerStateError`: an input that makes no sense in the current state is a bug,
not something to paper over. The state says what the keypair slots and the handshake hold, so they
never have to be read off a combination of fields (tests/unit/test_peer_state.py checks that the two
agree after every step of random runs):

========== ======================================== =================== =====================
state      keys                                     our initiation       shown as
========== ======================================== =================== =====================
IDLE       none                                     none                 idle
INITIATING none usable (maybe a responder's ``next``) outstanding        handshaking
RESPONDED  a responder's unconfirmed ``next`` only  none                 handshaking
UP         ``current``                              none                 up
REKEYING   ``current``                              outstanding          up
DOWN       none (erased when we gave up)            none                 down
RETRYING   none                                     outstanding          handshaking
========== ======================================== =================== =====================

Inputs: INITIATE (we start a handshake), ESTABLISH_INITIATOR (their response completed ours),
ESTABLISH_RESPONDER (we answered their initiation), CONFIRM (data arrived on the responder's ``next``
keypair: it becomes ``current``), EXPIRE (``current`` grew too old and all keys were erased),
GIVE_UP (no answer for REKEY_ATTEMPT_TIME: keys erased, the peer reported down; only the first
give-up of an outage is reported).
"""

from __future__ import annotations

from enum import Enum


class PeerState(Enum):
    IDLE = "idle"
    INITIATING = "initiating"
    RESPONDED = "responded"
    UP = "up"
    REKEYING = "rekeying"
    DOWN = "down"
    RETRYING = "retrying"

    @property
    def shown(self) -> str:
        """The word `tapliance status` shows: idle, handshaking, up or down."""
        return _SHOWN[self]


_SHOWN = {
    PeerState.IDLE: "idle",
    PeerState.INITIATING: "handshaking",
    PeerState.RESPONDED: "handshaking",
    PeerState.UP: "up",
    PeerState.REKEYING: "up",
    PeerState.DOWN: "down",
    PeerState.RETRYING: "handshaking",
}


class Input(Enum):
    INITIATE = "initiate"
    ESTABLISH_INITIATOR = "establish as initiator"
    ESTABLISH_RESPONDER = "establish as responder"
    CONFIRM = "confirm"
    EXPIRE = "expire"
    GIVE_UP = "give up"


class PeerStateError(RuntimeError):
    """An input the current state has no transition for (a bug in the caller)."""


S, In = PeerState, Input
TRANSITIONS: dict[tuple[PeerState, Input], PeerState] = {
    (S.IDLE, In.INITIATE): S.INITIATING,
    (S.IDLE, In.ESTABLISH_RESPONDER): S.RESPONDED,
    (S.INITIATING, In.ESTABLISH_INITIATOR): S.UP,
    (S.INITIATING, In.ESTABLISH_RESPONDER): S.INITIATING,  # crossed initiations: ours still outstanding
    (S.INITIATING, In.CONFIRM): S.REKEYING,
    (S.INITIATING, In.GIVE_UP): S.DOWN,
    (S.RESPONDED, In.INITIATE): S.INITIATING,
    (S.RESPONDED, In.ESTABLISH_RESPONDER): S.RESPONDED,
    (S.RESPONDED, In.CONFIRM): S.UP,
    (S.UP, In.INITIATE): S.REKEYING,
    (S.UP, In.ESTABLISH_RESPONDER): S.UP,
    (S.UP, In.CONFIRM): S.UP,
    (S.UP, In.EXPIRE): S.IDLE,
    (S.REKEYING, In.ESTABLISH_INITIATOR): S.UP,
    (S.REKEYING, In.ESTABLISH_RESPONDER): S.REKEYING,
    (S.REKEYING, In.CONFIRM): S.REKEYING,
    (S.REKEYING, In.EXPIRE): S.INITIATING,
    (S.REKEYING, In.GIVE_UP): S.DOWN,
    (S.DOWN, In.INITIATE): S.RETRYING,
    (S.DOWN, In.ESTABLISH_RESPONDER): S.RESPONDED,
    (S.RETRYING, In.ESTABLISH_INITIATOR): S.UP,
    (S.RETRYING, In.ESTABLISH_RESPONDER): S.INITIATING,
    (S.RETRYING, In.GIVE_UP): S.DOWN,
}
del S, In

HAS_CURRENT = frozenset({PeerState.UP, PeerState.REKEYING})
INITIATING = frozenset({PeerState.INITIATING, PeerState.REKEYING, PeerState.RETRYING})
REPORTED_DOWN = frozenset({PeerState.DOWN, PeerState.RETRYING})


def transition(state: PeerState, event: Input) -> PeerState:
    """The state after ``event``; PeerStateError if ``state`` has no transition for it."""
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise PeerStateError(f"no transition for {event.value!r} in state {state.name}") from None
