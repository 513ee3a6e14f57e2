"""The index table: which peer and keypair a receiver index names (wireguard-go's ``indextable.go``).

Every handshake picks a random 32-bit index for its side; the far end puts it in the ``receiver``
field of every response, cookie reply and data message it sends back, so the receive path finds the
session with one dictionary look-up and never tries keys. An entry whose keypair is None is one of
our initiations still waiting for its response.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tapliance.proto.native.keypair import Keypair
from tapliance.proto.native.peer import Peer


class IndexTable(dict[int, tuple[Peer, Keypair | None]]):
    """A dict (the receive path calls its ``get`` directly) with allocation and release."""

    def allocate(self, peer: Peer, random: Callable[[int], bytes]) -> int:
        """A fresh random index, reserved for ``peer`` (keypair to follow)."""
        while True:
            idx = int.from_bytes(random(4), "little")
            if idx not in self:
                self[idx] = (peer, None)
                return idx

    def free(self, keypairs: Iterable[Keypair]) -> None:
        """Forget the indices of keypairs that fell out of their peer's slots."""
        for kp in keypairs:
            self.pop(kp.local_index, None)
