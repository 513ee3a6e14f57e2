"""Wire constants and offsets of the native suite: the one place they live. See docs/protocol.md.

All integers are little-endian (as WireGuard's, which this format follows).
"""

from __future__ import annotations

import struct

from tapliance.proto.protocol import IPV4_UDP_OVERHEAD, IPV6_UDP_OVERHEAD, VNET

# Message types (first byte of every datagram).
MSG_INITIATION = 1
MSG_RESPONSE = 2
MSG_COOKIE = 3
MSG_DATA = 4
MSG_PAIR_INIT = 5  # shared-secret pairing (pake.py): SPAKE2 message of the pairing's initiator
MSG_PAIR_REPLY = 6  # the responder's SPAKE2 message and its static key, sealed under the PAKE key
MSG_PAIR_CONFIRM = 7  # the initiator's static key, sealed under the PAKE key

# Noise protocol name and our prologue-like identifier (differs from WireGuard's on purpose: a
# WireGuard peer and a tapliance peer must never complete a handshake with each other).
CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"tapliance v1 native L2 tunnel"
LABEL_MAC1 = b"mac1----"
LABEL_COOKIE = b"cookie--"

TAG_LEN = 16

# Handshake initiation: type(1) suite(1) caps(1) reserved(1) sender(4) ephemeral(32) static(32+16) timestamp(12+16)
# mac1 mac2
INIT_LEN = 148
INIT_MAC1_OFF = 116
INIT_MAC2_OFF = 132
INIT = struct.Struct("<BBBxI32s48s28s16s16s")

# Handshake response: type(1) caps(1) reserved(2) sender(4) receiver(4) ephemeral(32) empty(0+16) mac1 mac2
RESP_LEN = 92
RESP_MAC1_OFF = 60
RESP_MAC2_OFF = 76
RESP = struct.Struct("<BB2xII32s16s16s16s")

# Capabilities a side announces in its handshake message (byte 2 of an initiation, byte 1 of a response).
# A side ignores bits it does not know and sends unknown bits as zero; a version-1 peer sends 0 (none).
CAP_VNET = 0x01  # "send me frames with a virtio-net header and super-frames": my TAP has offloads
CAP_CONTROL = 0x02  # "I take control messages" (data flag CONTROL: addresses and routes a hub hands out)
CAPS_KNOWN = CAP_VNET | CAP_CONTROL

# Cookie reply: type(1) reserved(3) receiver(4) nonce(24) cookie(16+16)
COOKIE_LEN = 64
COOKIE = struct.Struct("<B3xI24s32s")

# Pairing (shared-secret mode, docs/protocol.md "Shared-secret mode"):
# init: type(1) suite(1) reserved(2) sender(4) X*(32)
# reply: type(1) reserved(3) sender(4) receiver(4) Y*(32) sealed static(32+16)
# confirm: type(1) reserved(3) receiver(4) sealed static(32+16)
PAIR_LABEL = b"tapliance v1 passphrase pairing"
PAIR_INIT_LEN = 40
PAIR_INIT = struct.Struct("<BB2xI32s")
PAIR_REPLY_LEN = 92
PAIR_REPLY_CLEAR = 44  # the reply's bytes before the sealed static key: they enter the transcript hash
PAIR_REPLY = struct.Struct("<B3xII32s48s")
PAIR_CONFIRM_LEN = 56
PAIR_CONFIRM = struct.Struct("<B3xI48s")

# Data: type(1) flags(1) frag_index(1) frag_count(1) receiver(4) counter(8) | AEAD(chunk) tag(16)
# The 16-byte header is the AEAD's associated data, so every field is authenticated.
DATA_HEADER = struct.Struct("<BBBBIQ")
DATA_HEADER_LEN = 16
DATA_OVERHEAD = DATA_HEADER_LEN + TAG_LEN
MAX_FRAGMENTS = 255
MAX_FRAME = 65535 + 14 + 4 + 12  # a 64 KiB super-frame with Ethernet/VLAN/virtio headers
FLAG_VNET = VNET  # chunk carries a virtio-net header in front of the frame: the frame flag, on the wire
FLAG_CONTROL = 0x02  # the chunk is a control message (QuickTun TCP command encoding), not a frame
FLAGS_KNOWN = FLAG_VNET | FLAG_CONTROL


def max_chunk(underlay_mtu: int, ipv6: bool) -> int:
    """Largest frame chunk one data datagram carries on an underlay of ``underlay_mtu``."""
    ip = IPV6_UDP_OVERHEAD if ipv6 else IPV4_UDP_OVERHEAD
    return underlay_mtu - ip - DATA_OVERHEAD


nonce96 = struct.Struct("<4xQ").pack
"""The AEAD nonce for a data counter: 4 zero bytes then the 64-bit counter (little-endian)."""
