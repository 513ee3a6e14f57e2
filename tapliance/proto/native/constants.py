"""Protocol constants of the native suite (seconds / messages), after WireGuard's whitepaper section 6.

The configurable ones (rekey time and volume, keepalive, handshake rate and CPU share) come from the config as
parameters; these are the fixed protocol bounds.
"""

REKEY_TIMEOUT = 5.0  # retransmit an unanswered initiation after this (plus jitter)
REKEY_ATTEMPT_TIME = 90.0  # give up on a handshake after trying this long; the peer is "down"
REKEY_AFTER_MESSAGES = 1 << 60  # rekey long before a counter could approach 2^64
HANDSHAKE_MIN_INTERVAL = 1.0  # do not start a new initiation more often than this (per peer)
REASSEMBLY_TIMEOUT = 2.0  # a frame whose fragments have not all arrived by then is dropped
REORDER_WINDOW = 32  # a partial frame is lost once datagrams arrive this many counters past its last one,
REORDER_TIME = 0.005  # or this long after the first later datagram arrived (fragments.py)
COOKIE_SECRET_LIFETIME = 120.0
HANDSHAKE_CPU_WINDOW = 1.0  # the handshake CPU budget holds this many seconds' worth (a burst)
MAX_SOURCES = 4096  # source networks (/24, /64) with a handshake rate bucket of their own
PASSIVE_KEEPALIVE = 10.0  # with keepalive = 0: answer received data within this, so dead-peer detection works


def reject_after_time(rekey_after: float) -> float:
    """A keypair is unusable after this age: 1.5 rekey periods (180 s for the default 120 s)."""
    return rekey_after * 1.5
