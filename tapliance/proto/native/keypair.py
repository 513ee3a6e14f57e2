"""A keypair: one direction-pair of transport keys from one handshake, and the data path on it.

Send pipeline (seal_frame), per frame from the TAP (up to a 64 KiB super-frame):
    split into even chunks that fit one datagram (fragments.layout) -> take consecutive counters
    -> one buffer; per chunk:
    header(type, flags, index, count, receiver, counter) -> AEAD(chunk, aad=header) sealed in place
The buffer is the UDP GSO layout (equal-size datagrams back to back), sent with one syscall.
The AEAD objects are built once per keypair; counters never repeat (a keypair is retired long
before 2^64 - 2^13 messages).

Receive contract: the caller parses the header, checks ``replay.check(counter)``, opens the datagram
with ``decrypt`` / ``decrypt_into`` (nonce from the counter, the header as associated data), and only
then calls ``replay.commit(counter)``.

With the compiled data path (tapliance/fastpath), ``fast`` is the keypair's compiled session: the same keys
in OpenSSL EVP contexts, and ``replay`` is its window (the compiled twin of ReplayWindow, one window either
way). ``seal_frame`` then seals the whole frame in one call, and the receive path opens through ``fast``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from tapliance.proto.native import wire as W
from tapliance.proto.native.fragments import layout
from tapliance.proto.native.handshake import Keys
from tapliance.proto.protocol import Frame
from tapliance.proto.replay import ReplayWindow
from tapliance.suites import make_aead, suite_id

_pack_into = W.DATA_HEADER.pack_into
_nonce = W.nonce96


class Keypair:
    __slots__ = (
        "_counter",
        "_recv",
        "_send",
        "_sent_bytes",
        "created",
        "decrypt",
        "decrypt_into",
        "fast",
        "initiator",
        "local_index",
        "remote_index",
        "replay",
    )

    def __init__(
        self,
        keys: Keys,
        suite: str,
        *,
        local_index: int,
        remote_index: int,
        initiator: bool,
        created: float,
        fast: ModuleType | None = None,
    ) -> None:
        self._send = make_aead(suite, keys.send)
        self._recv = make_aead(suite, keys.recv)
        self.decrypt = self._recv.decrypt  # bound once for the receive paths
        self.decrypt_into = self._recv.decrypt_into
        self.local_index = local_index
        self.remote_index = remote_index
        self.initiator = initiator
        self.created = created
        self._counter = 0  # next send counter (the compiled session's own, with one)
        self._sent_bytes = 0
        self.replay: ReplayWindow = ReplayWindow() if fast is None else fast.ReplayWindow()
        self.fast: Any = None if fast is None else fast.Session(suite_id(suite), keys.send, keys.recv, self.replay)

    def seal_frame(self, frame: Frame, max_chunk: int, flags: int = 0) -> tuple[bytearray, int]:
        """Seal ``frame`` into datagrams laid out back to back in one buffer, every one ``seg`` bytes
        but the last (possibly shorter): exactly the layout UDP GSO sends with one syscall.
        An empty frame is a keepalive (one datagram, no payload). Returns (buffer, seg)."""
        n = len(frame)
        if self.fast is not None:  # the session takes its counters: a worker thread may seal on it too
            buf, seg, _ = self.fast.seal(frame, max_chunk, flags, self.remote_index)
            return buf, seg
        # One datagram (most frames) needs no call; tests/unit/test_fragments.py holds this to layout().
        count, size = (1, n) if n <= max_chunk else layout(n, max_chunk)
        seg = size + W.DATA_OVERHEAD
        buf = bytearray(n + W.DATA_OVERHEAD * count)
        out = memoryview(buf)
        src = memoryview(frame)
        base = self._counter
        self._counter = base + count
        remote, enc, pack, nonce, data = self.remote_index, self._send.encrypt_into, _pack_into, _nonce, W.MSG_DATA
        off = pos = 0
        for i in range(count - 1):  # all full-size chunks; the last (maybe shorter) one below
            c = base + i
            pack(buf, off, data, flags, i, count, remote, c)
            enc(nonce(c), src[pos : pos + size], out[off : off + 16], out[off + 16 : off + seg])
            off += seg
            pos += size
        c = base + count - 1
        pack(buf, off, data, flags, count - 1, count, remote, c)
        enc(nonce(c), src[pos:], out[off : off + 16], out[off + 16 :])
        self._sent_bytes += n
        return buf, seg

    @property
    def counter(self) -> int:
        """The next send counter."""
        return self._counter if self.fast is None else int(self.fast.counter)

    @counter.setter
    def counter(self, value: int) -> None:
        if self.fast is None:
            self._counter = value
        else:
            self.fast.counter = value

    @property
    def sent_bytes(self) -> int:
        """Bytes of frames sealed (rekey by volume)."""
        return self._sent_bytes if self.fast is None else int(self.fast.sent_bytes)
