"""The otp suite's pad store contract: how the sans-IO codec reaches the pad and this end's durable state.

The codec (suites/otp.py) decides which offsets are used and when state must be durable; the store does
the I/O: tapliance/compat/pads.py on a pad file and its state file, a bytearray in the tests. Layout of
a pad of P bytes: two halves of H = P // 2 bytes (a last odd byte is unused), the first for the end with
``server = false`` to send from, the second for the ``server = true`` end; each half starts with its
direction's 16-byte Poly1305 ``r``.
"""

from __future__ import annotations

from typing import Protocol

R_LEN = 16  # Poly1305 r: the first bytes of each half
MIN_PAD_SIZE = 1 << 16  # smaller pads are refused: 32 KiB a direction is a few dozen full-size frames


class PadError(ValueError):
    """A pad or state that cannot be used; the message is one line."""


class PadStoreError(Exception):
    """The pad or its state could not be read, or not written durably; the message is one line."""


class PadStore(Protocol):
    """The pad and this end's durable state (tapliance/compat/pads.py on disk; a bytearray in the tests)."""

    size: int  # bytes in the pad
    send_start: int  # where this run's sending starts: past every reservation of earlier runs
    receive_floor: int  # the durable receive mark: the far end's ranges below it are refused

    def read(self, offset: int, n: int) -> bytes: ...  # exactly n bytes, or PadStoreError

    def reserve(self, end: int) -> None: ...  # durable before it returns: our offsets below end are spent

    def received(self, mark: int) -> None: ...  # durable: the far end's ranges below mark are refused

    def burn(self, offset: int, n: int) -> None: ...  # zeros on disk if burning (durable by the next call above)

    def close(self, send_next: int) -> None: ...  # clean stop: the exact next offset, everything synced


def halves(size: int, server: bool) -> tuple[tuple[int, int], tuple[int, int]]:
    """(our half, the far end's half) as [lo, hi) offsets, each starting with its 16-byte r."""
    h = size // 2
    client, second = (0, h), (h, 2 * h)
    return (second, client) if server else (client, second)
