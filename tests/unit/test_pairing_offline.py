"""A recorded shared-secret session and a dictionary: no offline test tells the passphrase from a guess.

"Offline test" in the sense of the design (docs/protocol.md, "Shared-secret mode"): a computation over
the recorded datagrams and one guess, without the ephemeral secrets that never left the two hosts,
whose outcome for the right passphrase differs from its outcome for a wrong one. The attacker here
tries every such test we could think of against every message of a recorded pairing, handshake and
data: unblinding the SPAKE2 elements, opening every sealed field and checking every MAC under keys made
from the guess and the public transcript, and playing SPAKE2 against the recorded elements with its own
scalars. Each gives the same outcome for every word of the dictionary, the passphrase included.

Two controls show the harness finds an oracle where there is one: the shared-secret VPN seed's
handshake (``h(message1 | "SRVR" | secret)``) and static keys derived from the passphrase (a one-key
setup done naively: mac1 becomes a passphrase check) both give the passphrase away; and with the
initiator's SPAKE2 scalar, which only the initiator ever held, the recorded reply identifies it too.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

from spake2 import SPAKE2_A, SPAKE2_B
from spake2.parameters.ed25519 import ParamsEd25519

from tapliance.proto.native import handshake as hs
from tapliance.proto.native import pake
from tapliance.proto.native import primitives as P
from tapliance.proto.native import wire as W
from tests.unit.pair import MAC_A, MAC_B, frame
from tests.unit.pairing_pair import PASSPHRASE, shared_pair

DICTIONARY = [b"password%d" % i for i in range(20)] + [PASSPHRASE, PASSPHRASE + b"!", b"correct horse"]
G = ParamsEd25519.group

Record = list[bytes]


def _record() -> Record:
    net, a, _b = shared_pair(seed=11)
    net.advance(2)
    net.send_frame(a, frame(MAC_B, MAC_A, b"recorded" * 30))
    net.run()
    return [d for d, _, _ in net.captured]


def _of(rec: Record, t: int) -> list[bytes]:
    return [d for d in rec if d[0] == t]


def _unblinds(rec: Record, guess: bytes) -> bool:
    """X* - g*M and Y* - g*N are group elements (as they are for the right passphrase)."""
    w = G.password_to_scalar(guess)
    xs = [G.bytes_to_element(d[8:40]).add(ParamsEd25519.M.scalarmult(-w)) for d in _of(rec, W.MSG_PAIR_INIT)]
    ys = [G.bytes_to_element(d[12:44]).add(ParamsEd25519.N.scalarmult(-w)) for d in _of(rec, W.MSG_PAIR_REPLY)]
    return all(G.bytes_to_element(e.to_bytes()) is not None for e in xs + ys)


def _sealed_fields(rec: Record) -> list[tuple[bytes, bytes]]:
    """(sealed, transcript hash) of every pairing reply and confirm: T is computable from the record."""
    init, reply = _of(rec, W.MSG_PAIR_INIT)[0], _of(rec, W.MSG_PAIR_REPLY)[0]
    t = P.hash_(W.PAIR_LABEL + init + reply[: W.PAIR_REPLY_CLEAR])
    out = [(reply[W.PAIR_REPLY_CLEAR :], t)]
    out += [(c[8:], t + reply[W.PAIR_REPLY_CLEAR :]) for c in _of(rec, W.MSG_PAIR_CONFIRM)]
    return out


def _opens(sealed: bytes, key: bytes, ad: bytes) -> bool:
    try:
        P.aead_open(key, 0, sealed, ad)
    except P.DecryptError:
        return False
    return True


def _keys_from_guess(guess: bytes, t: bytes) -> list[bytes]:
    """Every key the attacker can make from the guess and public values."""
    kinds = [hashlib.sha256(guess).digest(), P.hash_(guess), P.kdf(P.hash_(guess), t, 1)[0]]
    return kinds + P.kdf(P.hash_(guess), t, 3) + P.kdf(hashlib.sha256(guess).digest(), t, 3)


def _opens_under_guess(rec: Record, guess: bytes) -> bool:
    return any(_opens(s, k, ad) for s, ad in _sealed_fields(rec) for k in _keys_from_guess(guess, ad))


def _mac1_under_derived_key(rec: Record, guess: bytes) -> bool:
    """mac1 of any handshake message under a static key derived from the guess."""
    pub = P.dh_public(P.hash_(guess))
    msgs = [(d, W.INIT_MAC1_OFF) for d in _of(rec, W.MSG_INITIATION)]
    msgs += [(d, W.RESP_MAC1_OFF) for d in _of(rec, W.MSG_RESPONSE)]
    return any(P.mac(hs.mac1_key(pub), d[:off]) == d[off : off + 16] for d, off in msgs)


def _plays_spake_b(rec: Record, guess: bytes) -> bool:
    """Answer the recorded init as SPAKE2 side B with the guess and our own scalar, then open the reply."""
    init = _of(rec, W.MSG_PAIR_INIT)[0]
    spake = SPAKE2_B(guess, idA=pake.ID_A, idB=pake.ID_B, entropy_f=random.Random(3).randbytes)
    spake.start()
    k = spake.finish(b"A" + init[8:40])
    return any(_opens(s, key, ad) for s, ad in _sealed_fields(rec) for key in P.kdf(k, ad[:32], 3))


ATTACKS: dict[str, Callable[[Record, bytes], bool]] = {
    "unblind the SPAKE2 elements": _unblinds,
    "open a sealed field under a guess-made key": _opens_under_guess,
    "mac1 under a guess-derived static key": _mac1_under_derived_key,
    "play SPAKE2 side B with the guess": _plays_spake_b,
}


def test_no_offline_test_tells_the_passphrase_from_a_wrong_guess() -> None:
    rec = _record()
    assert {W.MSG_PAIR_INIT, W.MSG_PAIR_REPLY, W.MSG_PAIR_CONFIRM, W.MSG_INITIATION, W.MSG_DATA} <= {d[0] for d in rec}
    for name, attack in ATTACKS.items():
        outcomes = {guess: attack(rec, guess) for guess in DICTIONARY}
        assert len(set(outcomes.values())) == 1, f"{name} tells guesses apart: {outcomes}"


def test_control_the_seed_handshake_is_an_offline_oracle() -> None:
    """The shared-secret VPN seed: message 2 carries h(message1 | "SRVR" | secret)."""
    m1 = random.Random(1).randbytes(48)
    m2 = hashlib.sha256(m1 + b"SRVR" + PASSPHRASE).digest()
    found = [g for g in DICTIONARY if hashlib.sha256(m1 + b"SRVR" + g).digest() == m2]
    assert found == [PASSPHRASE]


def test_control_passphrase_derived_static_keys_are_an_offline_oracle() -> None:
    """Static keys derived from the passphrase: a recorded initiation's mac1 checks a guess."""
    private = P.hash_(PASSPHRASE)
    msg, _ = hs.create_initiation(
        suite=1,
        static_private=private,
        static_public=P.dh_public(private),
        peer_public=P.dh_public(private),
        peer_mac1_key=hs.mac1_key(P.dh_public(private)),
        sender_index=1,
        ephemeral_private=bytes(range(32)),
        unix_time=1.7e9,
        cookie=None,
        caps=0,
    )
    assert [g for g in DICTIONARY if _mac1_under_derived_key([msg], g)] == [PASSPHRASE]


def test_control_with_the_initiators_scalar_the_reply_identifies_the_passphrase() -> None:
    """What the attacker lacks is the point: given x (never sent), one recorded reply tests each guess."""
    seed_a = 21
    init, _run = pake.start(PASSPHRASE, 1, 5, random.Random(seed_a).randbytes)
    reply, _keys = pake.answer(init, PASSPHRASE, 9, bytes(range(32)), random.Random(22).randbytes)

    def with_x(guess: bytes) -> bool:
        spake = SPAKE2_A(guess, idA=pake.ID_A, idB=pake.ID_B, entropy_f=random.Random(seed_a).randbytes)
        spake.start()
        k = spake.finish(b"B" + reply[12:44])
        t = P.hash_(W.PAIR_LABEL + init + reply[: W.PAIR_REPLY_CLEAR])
        return _opens(reply[W.PAIR_REPLY_CLEAR :], P.kdf(k, t, 3)[0], t)

    assert [g for g in DICTIONARY if with_x(g)] == [PASSPHRASE]
