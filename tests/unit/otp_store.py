"""Test double: the otp codec's PadStore over a bytearray, recording every call in order."""

from __future__ import annotations

from tapliance.suites.padstore import R_LEN, PadStoreError, halves


class MemoryStore:
    """``calls`` records (method, args...) in order; a method named in ``fail`` raises PadStoreError;
    ``burning`` zeroes what ``burn`` is given; ``reserved`` and ``mark`` are what a restart would see."""

    def __init__(
        self, pad: bytes, *, server: bool = False, send_start: int | None = None, receive_floor: int | None = None
    ) -> None:
        self.pad = bytearray(pad)
        self.size = len(pad)
        (lo, _), (rlo, _) = halves(self.size, server)
        self.send_start = self.reserved = lo + R_LEN if send_start is None else send_start
        self.receive_floor = self.mark = rlo + R_LEN if receive_floor is None else receive_floor
        self.calls: list[tuple[object, ...]] = []
        self.fail: set[str] = set()
        self.burning = False
        self.closed_at: int | None = None

    def _call(self, *call: object) -> None:
        self.calls.append(call)
        if call[0] in self.fail:
            raise PadStoreError(f"{call[0]} failed")

    def read(self, offset: int, n: int) -> bytes:
        self._call("read", offset, n)
        return bytes(self.pad[offset : offset + n])

    def reserve(self, end: int) -> None:
        self._call("reserve", end)
        self.reserved = end

    def received(self, mark: int) -> None:
        self._call("received", mark)
        self.mark = mark

    def burn(self, offset: int, n: int) -> None:
        self._call("burn", offset, n)
        if self.burning:
            self.pad[offset : offset + n] = bytes(n)

    def close(self, send_next: int) -> None:
        self._call("close", send_next)
        self.closed_at = send_next

    def restarted(self, server: bool) -> MemoryStore:
        """What the next start sees after a crash: the durable reservation and mark, the same pad bytes."""
        s = MemoryStore(bytes(self.pad), server=server, send_start=self.reserved, receive_floor=self.mark)
        s.burning = self.burning
        return s
