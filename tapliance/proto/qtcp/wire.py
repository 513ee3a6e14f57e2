"""The QuickTun TCP protocol's framing and every command's encoding: the one place they live.

See docs/protocol-tcp.md for the byte diagrams and the choices the specification left open. Every
message is ``u16be(flags_len) || payload``: bit 15 set for a control message, clear for tunnel data;
bits 0-14 the payload's length. A control payload is ``u8 command || arguments``. When a direction is
encrypted, the whole payload is a NaCl box (tag first, 16 bytes longer), and the length counts that.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

CONTROL = 0x8000
MAX_PAYLOAD = 0x7FFF  # 32767: the 15-bit length
TAG_LEN = 16  # crypto_box's Poly1305 tag, in front of the ciphertext
MAX_PLAIN = MAX_PAYLOAD - TAG_LEN
MAX_NESTING = 10  # padding / multiple messages inside each other

START_TUNNEL = 0
START_CRYPTO = 1
ACK_CRYPTO = 2
BEGIN_KEY_UPDATE = 3
ACK_KEY_UPDATE = 4
START_PASSWORD = 5
ACK_PASSWORD = 6
DISABLE_ENCRYPTION = 7
ACK_DISABLE_ENCRYPTION = 8
ECHO_REQUEST = 9
ECHO_RESPONSE = 10
NETWORK_CONFIG = 11
ROUTING_UPDATE = 12
DATA_IN_CONTROL = 13
PADDING = 14
MULTIPLE = 15
TUNNEL_OPTIONS = 17
PROTOCOL_ID = 81  # "Q": followed by "UICKTUN"

NAMES = {
    START_TUNNEL: "start tunnel data",
    START_CRYPTO: "start crypto auth",
    ACK_CRYPTO: "acknowledge crypto auth",
    BEGIN_KEY_UPDATE: "begin key update",
    ACK_KEY_UPDATE: "acknowledge key update",
    START_PASSWORD: "start password authentication",
    ACK_PASSWORD: "acknowledge password authentication",
    DISABLE_ENCRYPTION: "disable encryption",
    ACK_DISABLE_ENCRYPTION: "acknowledge disable encryption",
    ECHO_REQUEST: "echo request",
    ECHO_RESPONSE: "echo response",
    NETWORK_CONFIG: "set network configuration",
    ROUTING_UPDATE: "routing information update",
    DATA_IN_CONTROL: "data packet",
    PADDING: "padding",
    MULTIPLE: "multiple messages",
    TUNNEL_OPTIONS: "tunnel options",
    PROTOCOL_ID: "protocol identification",
}
PREAMBLE = bytes([0x80, 0x08]) + b"QUICKTUN"  # a client's first 10 bytes: control, length 8, 81 "UICKTUN"

# tunnel options (command 17), one byte, most significant bit first as the spec lists them
OPT_ENCRYPTION = 0x80  # encryption supported
OPT_UNENCRYPTED = 0x40  # unencrypted data allowed
OPT_VNET = 0x01  # tapliance's extension (a reserved bit): data may carry a virtio-net header, super-frames <= 32 KiB


class MessageError(ValueError):
    """A message that does not follow the protocol: the connection ends (its bytes cannot be resynchronised)."""


def frame(payload: bytes, control: bool) -> bytes:
    """One message: the 2-byte header and ``payload`` (already sealed if the direction is encrypted)."""
    if len(payload) > MAX_PAYLOAD:
        raise MessageError(f"payload of {len(payload)} bytes exceeds the 15-bit length")
    return struct.pack("!H", (CONTROL if control else 0) | len(payload)) + payload


def command(code: int, args: bytes = b"") -> bytes:
    return bytes([code]) + args


def start_crypto(public_key: bytes, nonce_input: bytes) -> bytes:
    assert len(public_key) == 32 and len(nonce_input) == 24
    return command(START_CRYPTO, public_key + nonce_input)


def password_hash(salt: bytes, password: bytes) -> bytes:
    import hashlib

    return hashlib.sha512(salt + password).digest()


def padding(inner: bytes, pad: int) -> bytes:
    """``inner`` (a control command) with ``pad`` bytes of padding after it (0..255)."""
    return command(PADDING, bytes([pad]) + inner + bytes(pad))


def multiple(inners: list[bytes]) -> bytes:
    return command(MULTIPLE, b"".join(struct.pack("!H", len(m)) + m for m in inners))


def tunnel_options(flags: int) -> bytes:
    return command(TUNNEL_OPTIONS, bytes([flags]))


def protocol_id() -> bytes:
    return command(PROTOCOL_ID, b"UICKTUN")


def unwrap(payload: bytes, depth: int = 0) -> list[bytes]:
    """The control commands in ``payload``, with padding and multiple messages taken apart (bounded
    nesting). Raises MessageError for a malformed wrapper."""
    if not payload:
        raise MessageError("empty control message")
    code = payload[0]
    if code not in (PADDING, MULTIPLE):
        return [payload]
    if depth >= MAX_NESTING:
        raise MessageError(f"padding / multiple messages nested deeper than {MAX_NESTING}")
    if code == PADDING:
        if len(payload) < 2 or payload[1] > len(payload) - 2:
            raise MessageError("padding longer than its message")
        return unwrap(payload[2 : len(payload) - payload[1]], depth + 1)
    out, i = [], 1
    while i < len(payload):
        if i + 2 > len(payload):
            raise MessageError("multiple messages: truncated length")
        (n,) = struct.unpack_from("!H", payload, i)
        if i + 2 + n > len(payload):
            raise MessageError("multiple messages: inner message longer than its container")
        out += unwrap(payload[i + 2 : i + 2 + n], depth + 1)
        i += 2 + n
    return out


@dataclass(frozen=True)
class NetworkConfig:
    """Command 11. Fixed layout (71 bytes after the command code), in the spec's order; absent fields are zero::

    mode u8 (1 IP, 2 Ethernet) | v4 address(4) netmask(4) | v4 peer(4) netmask(4) | v4 DNS(4)
    | v6 address(16) prefix u8 | v6 peer(16) prefix u8 | v6 DNS(16)
    """

    ethernet: bool = True
    v4: ipaddress.IPv4Interface | None = None
    v4_peer: ipaddress.IPv4Interface | None = None
    v4_dns: ipaddress.IPv4Address | None = None
    v6: ipaddress.IPv6Interface | None = None
    v6_peer: ipaddress.IPv6Interface | None = None
    v6_dns: ipaddress.IPv6Address | None = None

    LENGTH = 71

    def encode(self) -> bytes:
        def v4(i: ipaddress.IPv4Interface | None) -> bytes:
            return i.ip.packed + i.netmask.packed if i else bytes(8)

        def v6(i: ipaddress.IPv6Interface | None) -> bytes:
            return i.ip.packed + bytes([i.network.prefixlen]) if i else bytes(17)

        return command(
            NETWORK_CONFIG,
            bytes([2 if self.ethernet else 1])
            + v4(self.v4)
            + v4(self.v4_peer)
            + (self.v4_dns.packed if self.v4_dns else bytes(4))
            + v6(self.v6)
            + v6(self.v6_peer)
            + (self.v6_dns.packed if self.v6_dns else bytes(16)),
        )

    @classmethod
    def decode(cls, args: bytes) -> NetworkConfig:
        if len(args) != cls.LENGTH or args[0] not in (1, 2):
            raise MessageError("set network configuration: 71 bytes, mode 1 or 2")

        def v4(o: int) -> ipaddress.IPv4Interface | None:
            if args[o : o + 8] == bytes(8):
                return None
            try:
                return ipaddress.IPv4Interface((args[o : o + 4], str(ipaddress.IPv4Address(args[o + 4 : o + 8]))))
            except ValueError:
                raise MessageError("set network configuration: not a netmask") from None

        def v6(o: int) -> ipaddress.IPv6Interface | None:
            if args[o : o + 17] == bytes(17):
                return None
            if args[o + 16] > 128:
                raise MessageError("set network configuration: IPv6 prefix over 128")
            return ipaddress.IPv6Interface((args[o : o + 16], args[o + 16]))

        d4, d6 = args[17:21], args[55:71]
        return cls(
            args[0] == 2,
            v4(1),
            v4(9),
            ipaddress.IPv4Address(d4) if any(d4) else None,
            v6(21),
            v6(38),
            ipaddress.IPv6Address(d6) if any(d6) else None,
        )


FAMILY_ETHERNET, FAMILY_V4, FAMILY_V6 = 0, 4, 6
_ADDR_LEN = {FAMILY_ETHERNET: 6, FAMILY_V4: 4, FAMILY_V6: 16}


@dataclass(frozen=True)
class RouteUpdate:
    """Command 12: ``family u8 (0 Ethernet, 4 IPv4, 6 IPv6) | valid u8 (1 reachable, 0 withdrawn) | address
    (6, 4 or 16 bytes) | prefix length u8 | u32be identifiers (AS numbers), any count``."""

    family: int
    valid: bool
    address: bytes
    prefix: int
    path: tuple[int, ...] = ()

    def encode(self) -> bytes:
        return command(
            ROUTING_UPDATE,
            bytes([self.family, int(self.valid)])
            + self.address
            + bytes([self.prefix])
            + b"".join(struct.pack("!I", a) for a in self.path),
        )

    @classmethod
    def decode(cls, args: bytes) -> RouteUpdate:
        if len(args) < 2 or args[0] not in _ADDR_LEN or args[1] not in (0, 1):
            raise MessageError("routing information update: family 0/4/6 and valid 0/1")
        n = _ADDR_LEN[args[0]]
        rest = args[2 + n + 1 :]
        if len(args) < 3 + n or len(rest) % 4 or args[2 + n] > n * 8:
            raise MessageError("routing information update: bad address, prefix or identifier list")
        path = tuple(struct.unpack(f"!{len(rest) // 4}I", rest)) if rest else ()
        return cls(args[0], bool(args[1]), bytes(args[2 : 2 + n]), args[2 + n], path)

    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        """The IP prefix (strict), or None for an Ethernet route or a prefix with host bits set."""
        if self.family == FAMILY_ETHERNET:
            return None
        try:
            return ipaddress.ip_network((self.address, self.prefix))
        except ValueError:
            return None


def route_accepted(update: RouteUpdate, allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    """A routing update is applied only for an IP prefix inside one of the peer's ``accept_routes``."""
    net = update.network()
    return net is not None and any(
        net.version == a.version and net.subnet_of(a)  # type: ignore[arg-type]
        for a in allowed
    )
