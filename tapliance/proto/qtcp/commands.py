"""What a QuickTun TCP end does with each command, what it sends first, and when it starts the tunnel.

Choices the specification leaves open, made here and written down in docs/protocol-tcp.md:
- a client sends ``protocol identification`` and ``tunnel options`` first, a server ``tunnel options``;
  a client with a key that wants encryption then sends ``start crypto auth``; a server sends its own
  ``start crypto auth`` when the client's options say it supports encryption, or on receiving the
  client's; every ``start crypto auth`` is acknowledged at once, and an anonymous client (no key of its
  own, the spec's "public" client) answers the server's with a ``begin key update`` of a session key;
- with PFS (the default) an end announces a session key once the far end acknowledged its key, and a
  new one every ``rekey_after`` seconds; every ``begin key update`` is acknowledged at once;
- a password is asked for (``start password authentication``, 16 random bytes of salt) and answered only
  inside a secure session (both directions sealed, no key0 on either side), unless the policy allows
  it in the clear;
- a server identifies a client by the key in its ``start crypto auth``; a client without a key by its
  password, once the session is secure (or, for a raw peer, in the clear); a ``public`` peer takes any
  client in a secure session;
- an end sends ``start tunnel data`` once ``satisfied``; a connection not started within
  ``HANDSHAKE_TIMEOUT`` seconds is closed.
"""

from __future__ import annotations

import hmac
import struct

from tapliance.proto.drops import Drop
from tapliance.proto.qtcp import wire as Q
from tapliance.proto.qtcp.session import Closed, Connection

SALT_LEN = 16
HANDSHAKE_TIMEOUT = 15.0


def opening(c: Connection, options: int) -> None:
    """The first messages of a connection, once it is up."""
    if c.client:
        c.queue(Q.protocol_id())
    c.queue(Q.tunnel_options(options))
    p = c.policy
    if c.client and p is not None:
        if p.require_encryption and not p.anonymous:
            start_crypto(c)
        elif not p.require_encryption and p.require_password and p.password_in_clear:
            ask_password(c)


def start_crypto(c: Connection) -> None:
    if c.sent_crypto or c.static is None or (c.policy is not None and c.policy.anonymous):
        return
    c.sent_crypto = True
    my_input = c.host.random(24)
    static = c.static
    c.recv.announced(static)
    c.queue(Q.start_crypto(static.public, my_input), lambda: c.send.sent_start(static, my_input))


def begin_session(c: Connection, now: float) -> None:
    pair = c.new_session_key()
    c.session_at = now
    c.recv.announced(pair)
    c.queue(Q.command(Q.BEGIN_KEY_UPDATE, pair.public), lambda: c.send.sent_begin(pair))


def ask_password(c: Connection) -> None:
    if c.salt is None:
        if not c.client and not c.host.password_allowed(c):
            raise Closed(Drop.TCP_PASSWORD, "too many wrong passwords from this address; try again later")
        c.salt = c.host.random(SALT_LEN)
        c.queue(Q.command(Q.START_PASSWORD, c.salt))


def _on_start_crypto(c: Connection, args: bytes, now: float) -> None:
    if len(args) != 56:
        raise Closed(Drop.TCP_BAD_MESSAGE, "start crypto auth: 56 bytes of key and nonce input")
    if c.recv.their_input is not None:
        raise Closed(Drop.TCP_BAD_MESSAGE, "a second start crypto auth")
    public, their_input = args[:32], args[32:]
    key = c.host.identify_key(c, public)  # raises Closed for a key we refuse
    c.recv.got_start(key, their_input, c.send.my_input)
    c.queue(Q.command(Q.ACK_CRYPTO), lambda: c.send.sent_ack_crypto(key, their_input))
    if c.policy is not None and c.policy.anonymous:
        if c.session_at is None:
            begin_session(c, now)
    else:
        start_crypto(c)


def _on_begin(c: Connection, args: bytes, authentic: bool) -> None:
    if len(args) != 32:
        raise Closed(Drop.TCP_BAD_MESSAGE, "begin key update: a 32-byte key")
    if authentic:
        c.trusted.add(args)  # announced in a box only the far end's key holder could make
    c.recv.got_begin(args)
    c.queue(Q.command(Q.ACK_KEY_UPDATE), lambda: c.send.sent_ack_update(args))


def _on_password(c: Connection, code: int, args: bytes) -> None:
    if code == Q.START_PASSWORD:
        if c.their_salt is not None or not 1 <= len(args) <= 255:
            raise Closed(Drop.TCP_BAD_MESSAGE, "start password authentication: one request, 1-255 bytes of salt")
        c.their_salt = args  # answered in progress(), once we know which password and the session allows
        return
    if c.salt is None or c.password_ok or len(args) != 64:
        raise Closed(Drop.TCP_BAD_MESSAGE, "acknowledge password authentication: 64 bytes, once, after we asked")
    if c.policy is None:  # a client without a key: its password says who it is
        ok = c.host.identify_password(c, c.salt, args)
    else:
        ok = c.policy.password is not None and hmac.compare_digest(Q.password_hash(c.salt, c.policy.password), args)
    c.host.password_attempt(c, ok)
    if not ok:
        raise Closed(Drop.TCP_PASSWORD, "wrong password")
    c.password_ok = True


def _answer_password(c: Connection) -> None:
    p = c.policy
    if c.their_salt is None or c.answered_password or p is None:
        return
    if p.password is None:
        raise Closed(Drop.TCP_PASSWORD, "the far end asks for a password and none is configured")
    if not c.secure():
        if not p.password_in_clear and not p.require_encryption:
            raise Closed(Drop.TCP_POLICY, "a password asked for in the clear (password_in_clear is off)")
        if not p.password_in_clear:
            return  # answered once the session is secure
    c.answered_password = True
    c.queue(Q.command(Q.ACK_PASSWORD, Q.password_hash(c.their_salt, p.password)))


def _on_disable(c: Connection, code: int) -> None:
    p = c.policy
    if p is None or not p.allow_unencrypted or not c.authenticated_once:
        raise Closed(Drop.TCP_POLICY, "the far end disables encryption, which our policy does not allow")
    c.recv.got_disable()
    if code == Q.DISABLE_ENCRYPTION:
        c.queue(Q.command(Q.ACK_DISABLE_ENCRYPTION), c.send.sent_disable)


def handle(c: Connection, cmd: bytes, authentic: bool, now: float) -> None:
    """One control command (padding and multiple messages already taken apart)."""
    code, args = cmd[0], cmd[1:]
    if code == Q.START_TUNNEL:
        c.got_tunnel = True
    elif code == Q.START_CRYPTO:
        _on_start_crypto(c, args, now)
    elif code == Q.ACK_CRYPTO:
        if c.send.my_input is None or c.recv.acked_mine:
            raise Closed(Drop.TCP_BAD_MESSAGE, "acknowledge crypto auth that answers nothing")
        c.recv.got_ack_crypto(c.send.my_input)
        if c.policy is not None and c.policy.session_keys and c.session_at is None:
            begin_session(c, now)
    elif code == Q.BEGIN_KEY_UPDATE:
        _on_begin(c, args, authentic)
    elif code == Q.ACK_KEY_UPDATE:
        if not c.recv.pending:
            raise Closed(Drop.TCP_BAD_MESSAGE, "acknowledge key update that answers nothing")
        c.recv.got_ack_update()
    elif code in (Q.START_PASSWORD, Q.ACK_PASSWORD):
        _on_password(c, code, args)
    elif code in (Q.DISABLE_ENCRYPTION, Q.ACK_DISABLE_ENCRYPTION):
        _on_disable(c, code)
    elif code == Q.ECHO_REQUEST:
        c.queue(Q.command(Q.ECHO_RESPONSE, args))
    elif code == Q.ECHO_RESPONSE:
        if len(args) == 8:
            c.rtt = max(0.0, now - struct.unpack("!d", args)[0])
    else:
        _handle_more(c, code, args, now)


def _handle_more(c: Connection, code: int, args: bytes, now: float) -> None:
    if code == Q.DATA_IN_CONTROL:
        c.data(args, now)
    elif code == Q.TUNNEL_OPTIONS:
        if len(args) != 1:
            raise Closed(Drop.TCP_BAD_MESSAGE, "tunnel options: one byte")
        c.their_options = args[0]
        c.options_seen = True
        if not c.client and args[0] & Q.OPT_ENCRYPTION and c.host.wants_crypto():
            start_crypto(c)
    elif code == Q.PROTOCOL_ID:
        if args != b"UICKTUN":
            raise Closed(Drop.TCP_BAD_MESSAGE, "protocol identification: not QUICKTUN")
    elif code in (Q.NETWORK_CONFIG, Q.ROUTING_UPDATE):
        try:
            item = Q.NetworkConfig.decode(args) if code == Q.NETWORK_CONFIG else Q.RouteUpdate.decode(args)
        except Q.MessageError as e:
            raise Closed(Drop.TCP_BAD_MESSAGE, str(e)) from None
        c.host.event(c, "netconfig" if code == Q.NETWORK_CONFIG else "route", item)
    else:
        c.host.event(c, "drop", Drop.TCP_UNKNOWN_COMMAND)


def satisfied(c: Connection) -> bool:
    """Our policy is met: we may send start tunnel data."""
    p = c.policy
    if p is None or (p.require_password and not c.password_ok):
        return False
    if p.allow_raw:
        return True
    if p.allow_unencrypted:
        return c.authenticated_once and c.recv.disabled and c.send.disabled
    if not c.secure() or not (c.authentic() or c.password_ok or (p.public and not c.client)):
        return False
    return not p.session_keys or (c.session_at is not None and c.recv.mine is not c.static)


def progress(c: Connection, now: float) -> None:
    """After each batch of messages: identify a client without a key, answer and ask for passwords, start
    session keys, turn encryption off (auth-only), start the tunnel, when it is time."""
    if c.policy is None and not c.client:
        c.host.identify_later(c)  # binds a raw or public peer, or asks for a password
    p = c.policy
    _answer_password(c)
    if p is None:
        return
    if p.session_keys and c.session_at is None and c.recv.acked_mine:
        begin_session(c, now)
    if p.require_password and (c.secure() or (p.password_in_clear and not p.require_encryption)):
        ask_password(c)
    if (
        p.allow_unencrypted
        and c.client
        and not c.sent_disable
        and c.sent_crypto
        and c.their_static in c.trusted
        and c.recv.their_input is not None
    ):
        c.sent_disable = True  # sealed after our acknowledgement, to the far end's key by our own: it authenticates us
        c.queue(Q.command(Q.DISABLE_ENCRYPTION), c.send.sent_disable)
    if not c.sent_tunnel and satisfied(c):
        c.sent_tunnel = True
        c.queue(Q.command(Q.START_TUNNEL))


def tick(c: Connection, now: float) -> float:
    """Keepalive echoes, session key renewal, the handshake and dead-peer rules; the next deadline."""
    p = c.policy
    keepalive = p.keepalive if p is not None and p.keepalive > 0 else 10.0
    if not c.enabled and now - c.started > HANDSHAKE_TIMEOUT:
        raise Closed(Drop.TCP_TIMEOUT, f"no tunnel after {HANDSHAKE_TIMEOUT:.0f} s: {why_waiting(c)}")
    if now - c.last_rx > 3 * keepalive:
        raise Closed(Drop.TCP_TIMEOUT, f"nothing received for {3 * keepalive:.0f} s")
    if c.enabled and now - c.echo_at >= keepalive:
        c.echo_at = now
        c.queue(Q.command(Q.ECHO_REQUEST, struct.pack("!d", now)))
    deadline = min(c.echo_at + keepalive, c.last_rx + 3 * keepalive)
    if not c.enabled:
        deadline = min(deadline, c.started + HANDSHAKE_TIMEOUT + 0.01)
    if p is not None and p.session_keys and c.enabled and c.session_at is not None:
        if now - c.session_at >= p.rekey_after:
            begin_session(c, now)
        deadline = min(deadline, c.session_at + p.rekey_after)
    return deadline


def why_waiting(c: Connection) -> str:
    """What the handshake still waits for, in words (for logs and status)."""
    p = c.policy
    if p is None:
        return "the client has not identified itself (no known key or password)"
    if p.require_password and not c.password_ok:
        return "the far end's password"
    if not p.allow_raw and not p.allow_unencrypted and not c.secure():
        return "encryption in both directions"
    if not c.sent_tunnel:
        return "authentication of the far end"
    return "the far end's start tunnel data (its policy is not met)"
