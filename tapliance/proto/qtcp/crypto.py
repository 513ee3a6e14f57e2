"""Keys and nonces of the QuickTun TCP protocol, one direction at a time (docs/protocol-tcp.md, Encryption).

Each direction's state is a function of that direction's own stream, so the receiver can mirror the
sender exactly, whatever crosses on the wire in the other direction:

- ``local``: the key pair the sender last announced in its own stream (``start crypto auth``: its static
  key; ``begin key update``: a session key); key0 before it announced any.
- ``remote``: the public key of the receiver's that the sender last acknowledged in its own stream
  (``acknowledge crypto auth`` / ``acknowledge key update``, oldest unacknowledged first); key0 before.
- ``encrypted``: from the first of start/acknowledge crypto auth, begin/acknowledge key update the sender
  sent, until it sent (acknowledge) disable encryption.
- ``nonce``: 24 bytes, zero at first; set to ``R[0:12] || L[0:12]`` when the sender sends start crypto
  auth (L: its nonce input; R: the receiver's, if the sender acknowledged it already, else zeros) or
  acknowledge crypto auth (R: the acknowledged input; L: its own, if it sent one, else zeros); then
  incremented as a big-endian number after every message sealed.

Every message is sealed under the state before its own effect. A box is NaCl's crypto_box
(curve25519-xsalsa20-poly1305) with the shared key ``beforenm(remote, local)``, sent without its 16
leading zero bytes (tag first), as QuickTun's UDP protocols send it.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field

from nacl.bindings import crypto_box_afternm, crypto_box_beforenm, crypto_box_open_afternm, crypto_scalarmult_base
from nacl.exceptions import CryptoError

KEY0_SECRET = hashlib.sha256(b"QuickTun TCP key0").digest()
KEY0_PUBLIC = bytes(crypto_scalarmult_base(KEY0_SECRET))
ZERO12 = bytes(12)


@dataclass(frozen=True)
class KeyPair:
    secret: bytes
    public: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> KeyPair:
        return cls(secret, bytes(crypto_scalarmult_base(secret)))


KEY0 = KeyPair(KEY0_SECRET, KEY0_PUBLIC)


def _increment(nonce: bytes) -> bytes:
    return ((int.from_bytes(nonce, "big") + 1) % (1 << 192)).to_bytes(24, "big")


def _shared(public: bytes, secret: bytes) -> bytes:
    try:
        return bytes(crypto_box_beforenm(public, secret))
    except CryptoError:
        raise ValueError("a low-order public key") from None


@dataclass
class Sender:
    """Our outgoing direction."""

    local: KeyPair = KEY0
    remote: bytes = KEY0_PUBLIC
    encrypted: bool = False
    disabled: bool = False
    nonce: bytes = bytes(24)
    my_input: bytes | None = None  # the nonce input we announced
    acked_input: bytes | None = None  # the receiver's nonce input we acknowledged
    _key: bytes | None = None

    def seal(self, plain: bytes) -> bytes:
        if not self.encrypted:
            return plain
        if self._key is None:
            self._key = _shared(self.remote, self.local.secret)
        sealed = bytes(crypto_box_afternm(plain, self.nonce, self._key))
        self.nonce = _increment(self.nonce)
        return sealed

    def _on(self) -> None:
        self._key = None
        if not self.disabled:
            self.encrypted = True

    # -- effects of what we just sent (applied after sealing it)
    def sent_start(self, static: KeyPair, my_input: bytes) -> None:
        self.local, self.my_input = static, my_input
        self.nonce = (self.acked_input or ZERO12)[:12] + my_input[:12]
        self._on()

    def sent_ack_crypto(self, their_key: bytes, their_input: bytes) -> None:
        self.remote, self.acked_input = their_key, their_input
        self.nonce = their_input[:12] + (self.my_input or ZERO12)[:12]
        self._on()

    def sent_begin(self, session: KeyPair) -> None:
        self.local = session
        self._on()

    def sent_ack_update(self, their_key: bytes) -> None:
        self.remote = their_key
        self._on()

    def sent_disable(self) -> None:
        self.encrypted, self.disabled = False, True


@dataclass
class Receiver:
    """The far end's outgoing direction, mirrored as its messages arrive. ``ours`` holds our key pairs the
    far end may still seal to: key0, then each one we announced (static, sessions), oldest first; an
    acknowledgement moves the far end onto the next one."""

    their: bytes = KEY0_PUBLIC
    mine: KeyPair = KEY0
    encrypted: bool = False
    disabled: bool = False
    nonce: bytes = bytes(24)
    their_input: bytes | None = None
    acked_mine: bool = False  # they acknowledged our start crypto auth
    pending: deque[KeyPair] = field(default_factory=deque)  # announced by us, not yet acknowledged by them
    _key: bytes | None = None

    def open(self, sealed: bytes) -> bytes | None:
        """The plaintext, or None if it does not authenticate (the connection then ends)."""
        if not self.encrypted:
            return sealed
        if self._key is None:
            try:
                self._key = _shared(self.their, self.mine.secret)
            except ValueError:
                return None
        try:
            plain = bytes(crypto_box_open_afternm(sealed, self.nonce, self._key))
        except CryptoError:
            return None
        self.nonce = _increment(self.nonce)
        return plain

    def _on(self) -> None:
        self._key = None
        if not self.disabled:
            self.encrypted = True

    # -- effects of what the far end sent (applied after opening it)
    def got_start(self, their_static: bytes, their_input: bytes, my_input: bytes | None) -> None:
        self.their, self.their_input = their_static, their_input
        self.nonce = ((my_input or ZERO12) if self.acked_mine else ZERO12)[:12] + their_input[:12]
        self._on()

    def got_ack_crypto(self, my_input: bytes) -> None:
        self.acked_mine = True
        self.mine = self.pending.popleft() if self.pending else self.mine
        self.nonce = my_input[:12] + (self.their_input or ZERO12)[:12]
        self._on()

    def got_begin(self, their_session: bytes) -> None:
        self.their = their_session
        self._on()

    def got_ack_update(self) -> None:
        if self.pending:
            self.mine = self.pending.popleft()
        self._on()

    def got_disable(self) -> None:
        self.encrypted, self.disabled = False, True

    def announced(self, pair: KeyPair) -> None:
        """We announced ``pair`` (start crypto auth or begin key update): they will seal to it once they
        acknowledge it."""
        self.pending.append(pair)
