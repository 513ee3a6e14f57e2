"""A keypair: one direction-pair of transport keys from one handshake, and the data path on it.

Send pipeline (seal_frame), per frame from the TAP:
    split into chunks that fit one datagram -> take consecutive counters -> for each chunk:
    header(type, flags, index, count, receiver, counter) -> AEAD(chunk, aad=header) -> datagram
The AEAD objects are built once per keypair; counters never repeat (a keypair is retired long
before 2^64 - 2^13 messages).

Receive contract: the caller parses the header, checks ``replay.check(counter)``, calls
``open_chunk`` (AEAD), and only then ``replay.commit(counter)``.
"""

from __future__ import annotations

from tapliance.proto import wire as W
from tapliance.proto.fragments import split
from tapliance.proto.handshake import Keys
from tapliance.proto.replay import ReplayWindow
from tapliance.suites import make_aead

_pack_header = W.DATA_HEADER.pack
_nonce = W.nonce96


class Keypair:
    __slots__ = ("_recv", "_send", "counter", "created", "initiator", "local_index", "remote_index",
                 "replay", "sent_bytes")

    def __init__(self, keys: Keys, suite: str, *, local_index: int, remote_index: int, initiator: bool,
                 created: float) -> None:
        self._send = make_aead(suite, keys.send)
        self._recv = make_aead(suite, keys.recv)
        self.local_index = local_index
        self.remote_index = remote_index
        self.initiator = initiator
        self.created = created
        self.counter = 0  # next send counter
        self.sent_bytes = 0
        self.replay = ReplayWindow()

    def seal_frame(self, frame: bytes, max_chunk: int, flags: int = 0) -> list[bytes]:
        """Datagrams carrying ``frame`` (an empty frame is a keepalive: one datagram, no payload)."""
        chunks = split(frame, max_chunk)
        count = len(chunks)
        if count > W.MAX_FRAGMENTS:
            raise ValueError(f"frame of {len(frame)} bytes needs {count} fragments (max {W.MAX_FRAGMENTS})")
        base = self.counter
        self.counter = base + count
        remote = self.remote_index
        enc = self._send.encrypt
        out = []
        for i, chunk in enumerate(chunks):
            header = _pack_header(W.MSG_DATA, flags, i, count, remote, base + i)
            out.append(header + enc(_nonce(base + i), chunk, header))
        self.sent_bytes += len(frame)
        return out

    def open_chunk(self, datagram: bytes, counter: int) -> bytes:
        """Authenticate and decrypt one data datagram; raises cryptography's InvalidTag on failure."""
        return self._recv.decrypt(_nonce(counter), datagram[W.DATA_HEADER_LEN :], datagram[: W.DATA_HEADER_LEN])
