"""Why something was not accepted: one enum of drop reasons and one counter object for all of them.

Every datagram, frame or message that the core or the runtime does not accept increments exactly one
counter, named by a :class:`Drop` member. The members are the only drop names there are: the status
snapshot, metrics and docs/protocol.md ("Drop reasons", kept in sync by a test) all come from here.
"""

from __future__ import annotations

from enum import StrEnum


class Drop(StrEnum):
    """A drop reason; its value is the counter's name, ``meaning`` says when it is counted."""

    meaning: str

    def __new__(cls, value: str, meaning: str) -> Drop:
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    # -- any datagram (native suite)
    SHORT = "short", "datagram shorter than the smallest message (32 bytes)"
    BAD_TYPE = "bad_type", "first byte is not a known message type"
    # -- handshake messages
    BAD_LENGTH = "bad_length", "handshake or cookie message of the wrong size"
    BAD_MAC1 = "bad_mac1", "mac1 does not verify: not addressed to our public key"
    SUITE_MISMATCH = "suite_mismatch", "initiation for another data suite than ours"
    HANDSHAKE_DECRYPT = "handshake_decrypt", "initiation or response does not decrypt (wrong key or pre-shared key)"
    UNKNOWN_PEER = "unknown_peer", "initiation from a static key that is not a configured peer"
    STALE_TIMESTAMP = "stale_timestamp", "initiation not newer than the last one accepted from that peer (a replay)"
    HANDSHAKE_RATE_LIMITED = (
        "handshake_rate_limited",
        "handshake message from a source network (/24, /64) over its handshake_rate: dropped unanswered",
    )
    HANDSHAKE_UNDER_LOAD = (
        "handshake_under_load",
        "under load (handshake CPU budget spent) and no valid mac2: answered with a cookie",
    )
    COOKIE_DECRYPT = "cookie_decrypt", "cookie reply that does not decrypt"
    # -- shared-secret pairing (tapliance/proto/native/pairing.py)
    PAIR_REFUSED = "pair_refused", "pairing message to a tunnel that has no passphrase peer"
    PAIR_RATE = "pair_rate", "pairing attempt over the passphrase guess rate (per source prefix or in all): unanswered"
    PAIR_FAILED = "pair_failed", "pairing that does not authenticate: wrong passphrase, forged or corrupt"
    PAIR_COLLISION = "pair_collision", "pairing init crossing ours that lost the tie-break (the smaller element wins)"
    # -- data messages
    UNKNOWN_INDEX = "unknown_index", "receiver index of no session (or a response to no initiation of ours)"
    BAD_HEADER = "bad_header", "data header with fragment index >= count or an unknown flag bit"
    REPLAY = "replay", "data counter already seen or older than the replay window"
    EXPIRED_KEY = "expired_key", "data under a keypair older than 1.5 x rekey_after_seconds"
    DECRYPT = "decrypt", "data message whose AEAD tag does not verify"
    # -- reassembly of fragmented frames
    FRAG_DUPLICATE = "frag_duplicate", "a fragment that already arrived"
    FRAG_INCONSISTENT = "frag_inconsistent", "fragments of one frame disagree on the fragment count"
    FRAG_OVERSIZE = "frag_oversize", "fragments add up to more than the largest frame"
    FRAG_EVICTED = "frag_evicted", "partial frame pushed out by the reassembly bounds (64 frames, 4 MiB)"
    FRAG_TIMEOUT = "frag_timeout", "partial frame not completed within 2 s"
    FRAG_OVERTAKEN = (
        "frag_overtaken",
        "partial frame given up as lost: later datagrams of its session passed it (by 32 counters, or 5 ms ago)",
    )
    # -- frames
    RUNT = "runt", "frame from a peer shorter than an Ethernet header"
    TAP_RUNT = "tap_runt", "frame from the TAP shorter than an Ethernet header"
    QUEUE_FULL = "queue_full", "frame held for a handshake pushed the oldest held frame out (128 per peer)"
    FRAME_TOO_BIG = "frame_too_big", "frame that needs more than 255 fragments"
    OFFLOAD_BAD = "offload_bad", "super-frame whose virtio-net header cannot be honoured for a plain receiver"
    NO_ENDPOINT = "no_endpoint", "frame for a legacy peer whose address is not known yet (it has not sent)"
    # -- the QuickTun TCP protocol (tapliance/proto/qtcp): a connection that breaks a rule is closed
    TCP_DECRYPT = "tcp_decrypt", "TCP message that does not authenticate (the connection is closed)"
    TCP_BAD_MESSAGE = "tcp_bad_message", "TCP message that breaks the protocol (connection closed)"
    TCP_UNKNOWN_KEY = "tcp_unknown_key", "TCP client presenting a key no peer has (connection closed)"
    TCP_PASSWORD = "tcp_password", "TCP password missing or wrong (connection closed)"
    TCP_POLICY = "tcp_policy", "TCP far end wants what our policy refuses, e.g. no encryption (closed)"
    TCP_TIMEOUT = "tcp_timeout", "TCP connection that stayed silent for 3 keepalive intervals (closed)"
    TCP_DATA_EARLY = "tcp_data_early", "TCP data before both ends started the tunnel"
    TCP_UNKNOWN_COMMAND = "tcp_unknown_command", "TCP control command this implementation does not know"
    TCP_QUEUE_FULL = "tcp_queue_full", "frame dropped from the head of a TCP peer's full send queue"
    TCP_NOT_CONNECTED = "tcp_not_connected", "frame for a TCP peer with no tunnel up"
    MAC_LIMIT = "mac_limit", "hub: a source MAC not learnt (forwarded, not remembered): its peer's max_macs is full"
    ISOLATED = "isolated", "hub: a frame between two clients that may not talk to each other (isolation)"
    FLOOD_LIMITED = "flood_limited", "hub: broadcast/multicast/unknown unicast over its peer's flood_rate"
    AUTO_NO_CARRIER = "auto_no_carrier", "frame for a transport-auto peer heard on neither UDP nor TCP lately"
    TCP_TOO_MANY = "tcp_too_many", "TCP connection refused: the listener already has its maximum of connections"
    ROUTE_REFUSED = "route_refused", "pushed route for a prefix the peer's accept_routes does not allow"
    CONTROL_BAD = "control_bad", "native control message that does not parse (handed-out addresses, routes)"
    CONTROL_UNKNOWN = "control_unknown", "native control message with a command this implementation does not take"
    # -- runtime I/O
    TAP_BUSY = "tap_busy", "TAP write would block (the kernel's queue is full)"
    TAP_ERROR = "tap_error", "TAP write failed (e.g. the link is down)"
    TX_BUSY = "tx_busy", "socket send would block (send buffer full)"
    TX_TOO_BIG = "tx_too_big", "socket send refused with EMSGSIZE (the path MTU is smaller than the datagram)"
    TX_ERROR = "tx_error", "socket send failed otherwise (e.g. no route)"
    RX_ERROR = "rx_error", "socket receive reported an error (e.g. ICMP port unreachable)"
    WORKER_BUSY = (
        "worker_busy",
        "frame or datagram the compiled path's worker hands to the Python loop found its queue full (2048, 4 MiB)",
    )
    INTERNAL_ERROR = "internal_error", "a bug: an exception while handling input (logged with its traceback)"
    # -- legacy suites (tapliance/suites/*)
    LEGACY_SHORT = "legacy_short", "legacy-suite datagram shorter than its format's header and tag"
    LEGACY_AUTH = "legacy_auth", "legacy-suite MAC, tag or checksum does not verify (wrong key, corrupt or forged)"
    LEGACY_REPLAY = "legacy_replay", "legacy-suite timestamp, nonce, counter or pad offset already accepted or too old"
    LEGACY_DUPLICATE = "legacy_duplicate", "quicktun raw/nacl0 datagram identical to one accepted in the last 0.5 s"
    LEGACY_REFLECTED = "legacy_reflected", "legacy-suite datagram that this end sent, coming back to it (reflection)"
    TTT_STALE = "ttt_stale", "tinytaptunnel timestamp more than 3 s behind our clock"
    TTT_FUTURE = "ttt_future", "tinytaptunnel timestamp more than 60 s ahead of our clock"
    SALTY_CONTROL_SIZE = "salty_control_size", "quicktun salty control datagram longer than 146 bytes"
    SALTY_NO_DECODER = "salty_no_decoder", "quicktun salty data for a key-id pair that has no decoder (yet)"
    SALTY_NO_KEY = "salty_no_key", "quicktun salty frame to send before the key exchange confirmed an encoder"
    SALTY_KEY_EXHAUSTED = "salty_key_exhausted", "quicktun salty frame to send after 2^29-1 packets under one key"
    TAPPET_RUNT = "tappet_runt", "authentic tappet plaintext under 32 bytes that is not a 3-byte keepalive"
    OTP_PAD_END = "otp_pad_end", "OTPTunnel offset and length reach past the end of the pad"
    # -- the otp suite (tapliance/suites/otp.py)
    OTP_OUT_OF_HALF = "otp_out_of_half", "otp datagram whose pad range is not inside either half's data range"
    OTP_CONFLICT = (
        "otp_conflict",
        "authentic otp datagram from our own half, past what we sent: both ends send from one half; we stop sending",
    )
    OTP_PAD_EXHAUSTED = (
        "otp_pad_exhausted",
        "otp frame that does not fit in what is left of our half of the pad: nothing more is sent (never a wrap)",
    )
    OTP_PAD_BURNED = "otp_pad_burned", "otp frame to send at pad that reads as zeros (a rolled-back state): we stop"
    OTP_STORE_ERROR = (
        "otp_store_error",
        "otp pad could not be read, or its state not durably written: after a write error we stop sending (logged)",
    )


class Drops(dict[str, int]):
    """Drop counters by reason, shared by the core and the runtime of one daemon.

    A plain dict underneath (keys are :class:`Drop` members, which are strings), so reading it is
    free and a snapshot is ``dict(drops)``; ``count`` is the one way to increment."""

    def count(self, reason: Drop, n: int = 1) -> None:
        self[reason] = self.get(reason, 0) + n
