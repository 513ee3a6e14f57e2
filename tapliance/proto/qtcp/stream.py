"""The incoming side of a QuickTun TCP connection: bytes of the stream cut into messages wherever they
arrive, each opened under the far end's direction state and handed to commands.py in order."""

from __future__ import annotations

import struct

from tapliance.proto.drops import Drop
from tapliance.proto.qtcp import wire as Q
from tapliance.proto.qtcp.commands import handle, progress
from tapliance.proto.qtcp.session import Closed, Connection


def feed(c: Connection, data: bytes, now: float) -> None:
    """Bytes from the stream; raises Closed when the connection must end."""
    c.inbuf += data
    buf = c.inbuf
    while len(buf) >= 2:
        (head,) = struct.unpack_from("!H", buf)
        n = head & Q.MAX_PAYLOAD
        if len(buf) < 2 + n:
            break
        payload = bytes(buf[2 : 2 + n])
        del buf[: 2 + n]
        authentic = c.authentic()
        plain = c.recv.open(payload)
        if plain is None:
            raise Closed(Drop.TCP_DECRYPT, "a message did not authenticate (wrong key, or a corrupt stream)")
        c.last_rx = now
        if authentic:
            c.authenticated_once = True  # this message proves its sender
        if head & Q.CONTROL:
            try:
                commands = Q.unwrap(plain)
            except Q.MessageError as e:
                raise Closed(Drop.TCP_BAD_MESSAGE, str(e)) from None
            for cmd in commands:
                c.heard.append(cmd[0])
                handle(c, cmd, authentic, now)
        else:
            c.data(plain, now)
    progress(c, now)
