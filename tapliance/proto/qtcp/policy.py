"""What one end of a QuickTun TCP connection requires and offers (per configured peer)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MODES = ("required", "auth-only", "off")


@dataclass(frozen=True)
class Policy:
    """``encryption``: ``required`` (the default): the tunnel starts only with both directions encrypted
    and the far end authenticated, by its key (a box to one of our own keys that only its key's holder
    can make) or by its password; ``auth-only``: keys authenticate both ends, then encryption is turned
    off (the spec's "cryptographically authenticated unencrypted"; the client asks; insecure); ``off``:
    no encryption at all (QuickTun's raw mode; insecure).
    ``public``: a server's peer with neither key nor password that takes any client, in an encrypted
    session (the spec's "encrypted public VPN"; the client then knows the server, not the reverse).
    ``password``: the shared password; we answer the far end's request with it, and with
    ``require_password`` we ask the far end to prove it (``sha512(salt || password)``); both only inside
    an encrypted session, unless ``password_in_clear``. ``anonymous``: we present no key of ours (the
    spec's "public" client, key0 and session keys only; a password then authenticates us). ``pfs``:
    session keys, renewed every ``rekey_after`` seconds."""

    encryption: str = "required"
    password: bytes | None = None
    require_password: bool = False
    password_in_clear: bool = False
    anonymous: bool = False
    public: bool = False  # a server peer without key or password that takes any client (encrypted, unauthenticated)
    pfs: bool = True
    rekey_after: float = 120.0
    padding: bool = False  # pad every encrypted message to a size bucket (hides lengths)
    vnet: bool = False  # our TAP has offloads: we take virtio-net headers (tapliance's extension)
    keepalive: float = 10.0  # echo requests this often; nothing heard for 3x: the connection ends
    accept_routes: tuple[Network, ...] = ()  # routing updates applied for prefixes inside these only
    accept_network_config: bool = True  # a client applies the addresses a server hands it

    @property
    def session_keys(self) -> bool:
        """PFS applies while the tunnel stays encrypted."""
        return self.pfs and self.encryption == "required"

    @property
    def require_encryption(self) -> bool:
        return self.encryption != "off"

    @property
    def allow_raw(self) -> bool:
        return self.encryption == "off"

    @property
    def allow_unencrypted(self) -> bool:
        return self.encryption == "auth-only"
