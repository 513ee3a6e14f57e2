"""Which configured peer a QuickTun TCP connection belongs to (the spec's "client specific configuration").

A client knows its peer before it dials. A server finds it from what the client presents:
- a key in ``start crypto auth``: the peer configured with that key (all zero: the one keyed peer, the
  spec's 1-to-1 case). An unknown key is refused, unless an unkeyed peer could still take the client
  (by password, or ``public``): then the key is used to seal to but is not trusted;
- no key: once the session is secure, the unkeyed encrypted peers are the candidates; if the client's
  options say it has no encryption, the raw ones. Candidates with passwords: we ask for one, and the
  password says which peer; else exactly one ``public`` (or raw) candidate takes the client.
Wrong passwords are counted per source address: more than ``PASSWORD_TRIES`` in ``PASSWORD_WINDOW``
seconds and that address is not asked again until the window has passed.
"""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tapliance.proto.drops import Drop
from tapliance.proto.qtcp import commands
from tapliance.proto.qtcp import wire as Q
from tapliance.proto.qtcp.session import Closed, Connection

if TYPE_CHECKING:
    from tapliance.proto.qtcp.peer import TcpPeer

PASSWORD_TRIES = 5
PASSWORD_WINDOW = 60.0


class Directory:
    def __init__(
        self, ports: Sequence[TcpPeer], bind: Callable[[Connection, TcpPeer], None], clock: Callable[[], float]
    ) -> None:
        self.ports = ports
        self.bind = bind
        self.clock = clock
        self.keyed = [p for p in ports if p.spec.public_key is not None and p.spec.endpoint is None]
        self.unkeyed = [p for p in ports if p.spec.public_key is None and p.spec.endpoint is None]
        self.failures: dict[str, deque[float]] = {}

    def identify_key(self, c: Connection, public: bytes) -> bytes:
        """The key to seal to for the key ``public`` the far end presented; raises Closed to refuse."""
        if c.client:
            want: bytes | None = c.port.spec.public_key
            if want is None or public not in (want, bytes(32)):
                raise Closed(Drop.TCP_UNKNOWN_KEY, "the server presents a key other than the configured one")
            c.trusted.add(want)
            c.their_static = want
            return want
        peer = next((p for p in self.keyed if p.spec.public_key == public), None)
        if peer is None and public == bytes(32) and len(self.keyed) == 1:
            peer = self.keyed[0]  # the spec's 1-to-1 case: the key is known from the config
        if peer is None or peer.spec.public_key is None:
            if public != bytes(32) and any(p.spec.policy.encryption == "required" for p in self.unkeyed):
                return public  # not trusted: a password or a public peer must still take the client
            raise Closed(Drop.TCP_UNKNOWN_KEY, f"a client key no peer has ({public.hex()[:16]}...)")
        c.trusted.add(peer.spec.public_key)
        c.their_static = peer.spec.public_key
        self.bind(c, peer)
        return peer.spec.public_key

    def identify_later(self, c: Connection) -> None:
        """A server's connection not identified by a key: find its peer, or ask for a password."""
        if c.secure():
            cands = [p for p in self.unkeyed if p.spec.policy.encryption == "required"]
        elif ((c.options_seen and not c.their_options & Q.OPT_ENCRYPTION) or c.got_tunnel) and not c.recv.encrypted:
            cands = [p for p in self.unkeyed if p.spec.policy.allow_raw]
        else:
            return  # the handshake goes on
        if not cands:
            raise Closed(Drop.TCP_POLICY, "no peer takes a client that is not identified by its key")
        if any(p.spec.policy.password is not None for p in cands):
            if c.secure() or all(p.spec.policy.password_in_clear for p in cands):
                commands.ask_password(c)
            return
        public = [p for p in cands if p.spec.policy.public or p.spec.policy.allow_raw]
        if len(public) != 1:
            raise Closed(Drop.TCP_POLICY, "several peers could take this client; give them keys or passwords")
        self.bind(c, public[0])

    def identify_password(self, c: Connection, salt: bytes, digest: bytes) -> bool:
        secure = c.secure()
        for p in self.unkeyed:
            pw, policy = p.spec.policy.password, p.spec.policy
            if pw is None or (policy.encryption == "required") != secure:
                continue
            if hmac.compare_digest(Q.password_hash(salt, pw), digest):
                self.bind(c, p)
                return True
        return False

    def password_allowed(self, c: Connection) -> bool:
        now = self.clock()
        seen = self.failures.get(self._source(c))
        while seen and now - seen[0] > PASSWORD_WINDOW:
            seen.popleft()
        return not seen or len(seen) < PASSWORD_TRIES

    def password_failed(self, c: Connection) -> None:
        source = self._source(c)
        self.failures.setdefault(source, deque()).append(self.clock())
        if len(self.failures) > 4096:  # bounded: forget the oldest source
            self.failures.pop(next(iter(self.failures)))

    @staticmethod
    def _source(c: Connection) -> str:
        return c.remote[0] if c.remote else "?"
