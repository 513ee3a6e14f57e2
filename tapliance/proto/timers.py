"""Protocol timer constants (seconds / messages), after WireGuard's whitepaper section 6.

The configurable ones (rekey time/volume, keepalive) come from the config as parameters; these are
the fixed protocol bounds.
"""

REKEY_TIMEOUT = 5.0  # retransmit an unanswered initiation after this (plus jitter)
REKEY_ATTEMPT_TIME = 90.0  # give up on a handshake after trying this long; the peer is "down"
REJECT_AFTER_MESSAGES = (1 << 64) - (1 << 13) - 1  # never seal more than this under one key
REKEY_AFTER_MESSAGES = 1 << 60
HANDSHAKE_MIN_INTERVAL = 1.0  # do not start a new initiation more often than this (per peer)
REASSEMBLY_TIMEOUT = 2.0  # a frame whose fragments have not all arrived by then is dropped
COOKIE_SECRET_LIFETIME = 120.0
PREVIOUS_KEY_GRACE = 10.0  # keep the old keypair this long after a rekey for in-flight packets


def reject_after_time(rekey_after: float) -> float:
    """A keypair is unusable after this age: 1.5 rekey periods (180 s for the default 120 s)."""
    return rekey_after * 1.5
