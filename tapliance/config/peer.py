"""A ``[[peer]]``: who it is, how to reach it, and which suite carries its traffic, with the keys each
suite needs. A key meant for other suites is an error; so is a suite without the keys it needs, and an
insecure suite without ``allow_insecure = true`` (the checks are in tapliance.config.checks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tapliance.config.fields import Endpoint, IPAddress, IPInterface, IPNetwork, setting
from tapliance.suites import PEER_SUITES

QUICKTUN_BOX = ("quicktun-nacl0", "quicktun-nacltai", "quicktun-salty")
LEGACY_ONLY = tuple(s for s in PEER_SUITES if s != "native")


@dataclass(frozen=True)
class PeerConfig:
    suite: str = setting(
        "native",
        "how this peer's traffic is carried: `native` (the tunnel's suite), `otp` (a one-time pad, "
        "docs/protocol-otp.md), or a predecessor's format to talk to an unchanged far end: "
        + ", ".join(f"`{s}`" for s in LEGACY_ONLY if s != "otp"),
        kind="choice",
        choices=PEER_SUITES,
    )
    public_key: bytes | None = setting(
        None,
        "the peer's `tapliance pubkey` (base64), or for QuickTun and tappet peers their 64-hex-digit public key",
        kind="public_key",
        shown="**required** for native, quicktun-nacl0/nacltai/salty, tappet (or `public_key_file`)",
        suites=("native", *QUICKTUN_BOX, "tappet"),
    )
    name: str = setting("", "label in logs and status", kind="str", shown="key prefix")
    endpoint: Endpoint | None = setting(
        None,
        '`"HOST:PORT"` or `"[IPv6]:PORT"` (UDP; with `transport = "tcp"` the TCP address); native peers may name '
        "a host by DNS (resolved at start and again while the peer is unreachable); without it the peer is "
        "learned from its first authenticated packet",
        kind="endpoint_name",
        shown="none",
    )
    transport: str = setting(
        "udp",
        "`udp`; `tcp`: the QuickTun TCP protocol (docs/protocol-tcp.md), where only TCP gets through; `auto`: UDP, "
        "falling back to TCP (`tcp_endpoint`) when no UDP handshake completes within a few seconds, and back",
        kind="choice",
        choices=("udp", "tcp", "auto"),
        suites=("native",),
    )
    tcp_endpoint: Endpoint | None = setting(
        None,
        '`transport = "auto"`: the far end\'s TCP address (its `tunnel.tcp_listen`)',
        kind="endpoint_name",
        shown="none",
        suites=("native",),
    )
    tcp_encryption: str = setting(
        "required",
        "TCP: `required`; `auth-only` (keys authenticate both ends, then encryption is off) and `off` (QuickTun's "
        "raw mode) are insecure and need `allow_insecure = true`",
        kind="choice",
        choices=("required", "auth-only", "off"),
        suites=("native",),
    )
    password_file: Path | None = setting(
        None,
        "TCP: a file (mode 0600) holding the shared password (its first line); sent only as sha512(salt || "
        "password), and only inside an encrypted session",
        kind="path",
        shown="none",
        suites=("native",),
    )
    require_password: bool = setting(
        False,
        "TCP: ask the far end for the password (`password_file`); a server peer without `public_key` is then "
        "known by its password alone",
        kind="bool",
        suites=("native",),
    )
    password_in_clear: bool = setting(
        False,
        "TCP: let the password exchange happen without encryption (needs `allow_insecure`)",
        kind="bool",
        suites=("native",),
    )
    tcp_public: bool = setting(
        False,
        "TCP server: this peer (no `public_key`, no password) takes any client in an encrypted session: the "
        "spec's public VPN, clients unauthenticated",
        kind="bool",
        suites=("native",),
    )
    tcp_anonymous: bool = setting(
        False,
        "TCP client: present no key of ours (session keys only; the server knows us by password, or is public)",
        kind="bool",
        suites=("native",),
    )
    tcp_padding: bool = setting(
        False,
        "TCP: pad every encrypted message to a size bucket (64 ... 32767 bytes) so lengths tell little",
        kind="bool",
        suites=("native",),
    )
    assign_addresses: tuple[IPInterface, ...] = setting(
        (),
        'TCP server: the addresses this client\'s TAP gets (`"10.8.0.2/24"`, `"fd08::2/64"`; one of each family), '
        "handed out with set network configuration",
        kind="interfaces",
        suites=("native",),
    )
    accept_addresses: bool = setting(
        True,
        "client: put the addresses a hub hands out (its `[pool]`, or a TCP server's `assign_addresses`) on our "
        "TAP; removed on exit",
        kind="bool",
        suites=("native",),
    )
    accept_routes: tuple[IPNetwork, ...] = setting(
        (),
        "client: routes the far end pushes (its `[pool] routes`, TCP routing updates) are installed via the TAP "
        "only inside these prefixes; any other is counted and ignored",
        kind="networks",
        suites=("native",),
    )
    client_to_client: bool = setting(
        True,
        "hub: this peer may exchange frames with other clients (`false`: only with the hub's side, its TAP and "
        "bridged LAN, and with its `group`)",
        kind="bool",
    )
    group: str = setting(
        "", "hub: clients sharing a group reach each other even when `client_to_client = false`", kind="str"
    )
    max_macs: int = setting(
        1024,
        "hub: at most this many source MACs learnt behind the peer (a MAC flood fills only its own share); `0` no cap",
        kind="int",
        lo=0,
        hi=1 << 20,
    )
    flood_rate: int = setting(
        2000,
        "hub: broadcast, multicast and unknown-unicast frames per second the peer may make the switch flood "
        "(burst twice that); the rest is dropped (`flood_limited`); `0` unlimited",
        kind="int",
        lo=0,
        hi=1 << 24,
    )
    reserve: tuple[IPAddress, ...] = setting(
        (),
        "hub: this peer's fixed addresses (one per family) inside `[pool]`, never handed to another",
        kind="addresses",
        suites=("native",),
    )
    lease: bool = setting(
        True,
        "hub with a `[pool]`: `false` exempts this peer from the address handout (e.g. a bridged site)",
        kind="bool",
        suites=("native",),
    )
    announce_routes: tuple[IPNetwork, ...] = setting(
        (), "TCP: prefixes we announce to this peer (routing information update)", kind="networks", suites=("native",)
    )
    preshared_key_file: Path | None = setting(
        None,
        "optional 32-byte key (`tapliance genkey` output), mode 0600, same file on both ends",
        kind="path",
        shown="none",
        suites=("native",),
    )
    passphrase_file: Path | None = setting(
        None,
        "shared-secret mode: a file (mode 0600) whose first line is a passphrase both ends share; then no "
        "`public_key`: a PAKE pairing (SPAKE2) exchanges the static keys and feeds the psk; a recorded "
        "handshake allows no offline guessing (docs/protocol.md). At most one such peer per tunnel, over UDP",
        kind="path",
        shown="none",
        suites=("native",),
    )
    keepalive: float | None = setting(
        None, "per-peer override", kind="number", lo=0, hi=3600, shown="tunnel's", suites=("native",)
    )
    listen: Endpoint | None = setting(
        None,
        "legacy peers: the UDP address of this peer's own socket (a predecessor's format cannot share one); "
        "without it, an ephemeral port towards `endpoint`",
        kind="listen",
        shown="none",
        suites=LEGACY_ONLY,
    )
    allow_insecure: bool = setting(
        False,
        "run an insecure suite (tinytaptunnel, quicktun-raw, quicktun-nacl0, otptunnel) or TCP setting "
        "(`tcp_encryption` other than `required`, `password_in_clear`) anyway; `check-config` names the weakness",
        kind="bool",
        suites=PEER_SUITES,
    )
    private_key_file: Path | None = setting(
        None,
        "QuickTun: its PRIVATE_KEY_FILE (32 raw bytes or 64 hex digits) or a `tapliance genkey` file; "
        "tappet: its `NAME.key`. Mode 0600",
        kind="path",
        shown="QuickTun: the tunnel's; tappet: **required**",
        suites=(*QUICKTUN_BOX, "tappet"),
    )
    public_key_file: Path | None = setting(
        None, "tappet: the far end's `NAME.pub`", kind="path", shown="none", suites=("tappet",)
    )
    key_file: Path | None = setting(
        None,
        "tinytaptunnel: its base64 key file (created, mode 0600, if missing, as tinytaptunnel does)",
        kind="path",
        shown="**required**",
        suites=("tinytaptunnel",),
    )
    nonce_file: Path | None = setting(
        None,
        "tappet: its 4-byte nonce file, incremented and written back at every start",
        kind="path",
        shown="**required**",
        suites=("tappet",),
    )
    pad_file: Path | None = setting(
        None,
        "otptunnel, otp: the pad file (the same bytes at both ends). otp: mode 0600 (`tapliance pad generate`); "
        "this end's state is kept beside it in `PAD_FILE.state` (docs/protocol-otp.md)",
        kind="path",
        shown="**required**",
        suites=("otptunnel", "otp"),
    )
    server: bool | None = setting(
        None,
        "tappet: server mode (`-l`; default: when there is no `endpoint`); otptunnel: the server end (`-S`, odd "
        "pad offsets); otp: `true` at exactly one end, which sends from the pad's second half (the other end, "
        "`false`, from the first)",
        kind="bool",
        shown="see meaning; otp: **required**",
        suites=("tappet", "otptunnel", "otp"),
    )
    pad_burn: bool = setting(
        False,
        "otp: overwrite the pad this end has used (sent and received ranges) with zeros on disk",
        kind="bool",
        suites=("otp",),
    )
    pad_warn: float = setting(
        10.0,
        "otp: log a warning once when less than this percentage of a direction's half of the pad is left",
        kind="number",
        lo=0,
        hi=100,
        suites=("otp",),
    )
    time_window: float | None = setting(
        None,
        "quicktun-nacltai: QuickTun's TIME_WINDOW, seconds of old labels refused after a start",
        kind="number",
        lo=0,
        hi=86400,
        shown="none",
        suites=("quicktun-nacltai",),
    )
    quicktun_role: int | None = setting(
        None,
        "quicktun-nacltai: QuickTun's ROLE override of the direction bit",
        kind="int",
        lo=0,
        hi=1 << 31,
        shown="from the keys",
        suites=("quicktun-nacltai",),
    )
    accept_restart_after: float | None = setting(
        None,
        "otptunnel: accept a restarted far end (its offsets back at 0/1) after this many quiet seconds; this "
        "re-admits replays of its earlier run",
        kind="number",
        lo=0,
        hi=86400,
        shown="never",
        suites=("otptunnel",),
    )

    @property
    def legacy(self) -> bool:
        return self.suite != "native"

    @property
    def udp(self) -> bool:
        """Carried by the native protocol over UDP (all the time, or first with ``auto``)."""
        return not self.legacy and self.transport != "tcp"

    @property
    def tcp(self) -> bool:
        """Carried by the QuickTun TCP protocol (all the time, or as the fallback with ``auto``)."""
        return not self.legacy and self.transport != "udp"
