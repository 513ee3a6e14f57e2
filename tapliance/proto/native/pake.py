"""Shared-secret pairing: a passphrase -> SPAKE2 -> both static public keys and the Noise pre-shared key.

Theory of operation (docs/protocol.md, "Shared-secret mode"). Two sides that share only a passphrase
run SPAKE2 (python-spake2, Ed25519 group; Abdalla and Pointcheval 2005) in three messages:

    init     I -> R   X* = x*G + pw*M                                (SPAKE2 side A)
    reply    R -> I   Y* = y*G + pw*N,  AEAD(k_r, S_r_pub, ad = T)    (side B)
    confirm  I -> R   AEAD(k_i, S_i_pub, ad = T || sealed S_r_pub)

``K`` is SPAKE2's key; ``T = HASH(PAIR_LABEL || init || reply[0:44])`` the transcript of everything
sent in clear; ``(k_r, k_i, k_p) = KDF3(K, T)``. The pairing ends with each side holding the other's
static public key (authenticated by the passphrase) and ``psk = KDF1(k_p, S_i_pub || S_r_pub)``, which
is fed to the Noise_IKpsk2 handshake (handshake.py) as the peer's pre-shared key: every session of a
pairing is bound to its transcript and to both static keys.

Why no offline guessing: X* and Y* are uniformly distributed group elements whatever the passphrase
(each guess "unblinds" them to some valid element), and everything else on the wire is keyed by K,
which takes x or y (never sent) to compute. So a recorded pairing (and every handshake after it)
tests no guess; an attacker who takes part learns one guess per run (online), and runs are rate-limited
(guesses.py). SPAKE2's ephemerals give the pairing forward secrecy; the Noise ephemerals the sessions.

Pure functions over bytes: errors are :class:`PairError` with the drop to count; randomness is a
parameter (``random(n)``); no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from spake2 import SPAKE2_A, SPAKE2_B

from tapliance.proto.drops import Drop
from tapliance.proto.native import primitives as P
from tapliance.proto.native import wire as W

ID_A = W.PAIR_LABEL + b" initiator"  # SPAKE2 identities: the two roles of a pairing run
ID_B = W.PAIR_LABEL + b" responder"


class PairError(Exception):
    """The message is not acceptable; ``reason`` is the drop to count."""

    def __init__(self, reason: Drop) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PairKeys:
    """What one pairing run derived from SPAKE2's key and its transcript."""

    transcript: bytes  # T
    reply_key: bytes  # k_r: seals the responder's static key
    confirm_key: bytes  # k_i: seals the initiator's static key
    psk_key: bytes  # k_p: the pre-shared key of the pairing's Noise handshakes


@dataclass
class PairRun:
    """The initiator's outstanding run: its SPAKE2 state and the init it sent."""

    sender_index: int
    element: bytes  # X*, as sent
    init: bytes  # the whole init message (transcript)
    spake: SPAKE2_A


def start(passphrase: bytes, suite: int, sender_index: int, random: Callable[[int], bytes]) -> tuple[bytes, PairRun]:
    """A new run as initiator: the init message and what to keep until the reply."""
    spake = SPAKE2_A(passphrase, idA=ID_A, idB=ID_B, entropy_f=random)
    element = spake.start()[1:]  # the library's first byte names its side; the message type says it here
    msg = W.PAIR_INIT.pack(W.MSG_PAIR_INIT, suite, sender_index, element)
    return msg, PairRun(sender_index, element, msg, spake)


def answer(
    init: bytes, passphrase: bytes, sender_index: int, static_public: bytes, random: Callable[[int], bytes]
) -> tuple[bytes, PairKeys]:
    """Answer an init (its size and suite already checked): the reply and the run's keys. Raises
    PairError(PAIR_FAILED) for an element that is not one of the group's (or reflects our own)."""
    _, _suite, their_index, element = W.PAIR_INIT.unpack(init)
    spake = SPAKE2_B(passphrase, idA=ID_A, idB=ID_B, entropy_f=random)
    ours = spake.start()[1:]
    k = _finish(spake, b"A" + element)
    clear = W.PAIR_REPLY.pack(W.MSG_PAIR_REPLY, sender_index, their_index, ours, bytes(48))[: W.PAIR_REPLY_CLEAR]
    keys = _derive(k, init, clear)
    sealed = P.aead_seal(keys.reply_key, 0, static_public, keys.transcript)
    return clear + sealed, keys


def finish(reply: bytes, run: PairRun, static_public: bytes) -> tuple[bytes, bytes, PairKeys]:
    """The initiator's side of a reply (its size and receiver index already checked): the responder's
    static key, the confirm message and the run's keys. PairError(PAIR_FAILED) for a wrong passphrase
    (the sealed key does not open) or an element that is not one of the group's."""
    _, _sender, _receiver, element, sealed = W.PAIR_REPLY.unpack(reply)
    k = _finish(run.spake, b"B" + element)
    keys = _derive(k, run.init, reply[: W.PAIR_REPLY_CLEAR])
    try:
        peer_public = P.aead_open(keys.reply_key, 0, sealed, keys.transcript)
    except P.DecryptError:
        raise PairError(Drop.PAIR_FAILED) from None
    receiver = int.from_bytes(reply[4:8], "little")  # the responder's sender index
    mine = P.aead_seal(keys.confirm_key, 0, static_public, keys.transcript + sealed)
    return peer_public, W.PAIR_CONFIRM.pack(W.MSG_PAIR_CONFIRM, receiver, mine), keys


def confirm(msg: bytes, keys: PairKeys, reply: bytes) -> bytes:
    """The responder's side of a confirm (size and index checked): the initiator's static key.
    ``reply`` is the reply we sent for this run. PairError(PAIR_FAILED) if it does not open."""
    _, _receiver, sealed = W.PAIR_CONFIRM.unpack(msg)
    try:
        return P.aead_open(keys.confirm_key, 0, sealed, keys.transcript + reply[W.PAIR_REPLY_CLEAR :])
    except P.DecryptError:
        raise PairError(Drop.PAIR_FAILED) from None


def psk(keys: PairKeys, initiator_public: bytes, responder_public: bytes) -> bytes:
    """The pairing's pre-shared key for the Noise handshakes (psk2), bound to both static keys."""
    return P.kdf(keys.psk_key, initiator_public + responder_public, 1)[0]


def _finish(spake: SPAKE2_A | SPAKE2_B, message: bytes) -> bytes:
    try:
        return bytes(spake.finish(message))
    except Exception:
        # not a point, not on the curve, not in the prime-order subgroup, or our own reflected: the
        # library raises one class for each (NotOnCurve is a bare Exception), so all are caught here
        raise PairError(Drop.PAIR_FAILED) from None


def _derive(k: bytes, init: bytes, reply_clear: bytes) -> PairKeys:
    t = P.hash_(W.PAIR_LABEL + init + reply_clear)
    k_r, k_i, k_p = P.kdf(k, t, 3)
    return PairKeys(t, k_r, k_i, k_p)
