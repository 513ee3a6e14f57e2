"""A ``[[peer]]``: who it is, how to reach it, and which suite carries its traffic, with the keys each
suite needs. A key meant for other suites is an error; so is a suite without the keys it needs, and an
insecure suite without ``allow_insecure = true`` (the checks are in tapliance.config.checks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tapliance.config.fields import Endpoint, setting
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
        '`"IP:PORT"` or `"[IPv6]:PORT"`; without it the peer is learned from its first authenticated packet',
        kind="endpoint",
        shown="none",
    )
    preshared_key_file: Path | None = setting(
        None,
        "optional 32-byte key (`tapliance genkey` output), mode 0600, same file on both ends",
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
        "run an insecure suite (tinytaptunnel, quicktun-raw, quicktun-nacl0, otptunnel) anyway; `check-config` "
        "names the weakness",
        kind="bool",
        suites=LEGACY_ONLY,
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
