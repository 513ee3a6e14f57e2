"""The configuration as frozen dataclasses: the single home of every key's name, default, bounds and text.

Each field is declared with :func:`setting`, which records what the reader needs (kind, bounds,
choices) and what the documentation needs (one line of meaning; the default as shown when it is not a
plain value). The reader (reader.py) checks and converts the TOML by these declarations, the README's
configuration reference is generated from them (``python -m tapliance.config``; a test keeps the
README equal to it), and the Ansible role's defaults are checked against them by a test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tapliance.config.fields import Endpoint, IPAddress, IPInterface, IPNetwork, setting
from tapliance.config.peer import PeerConfig
from tapliance.config.pool import PoolConfig
from tapliance.suites import NATIVE, REGISTRY

DEFAULT_PORT = 9123
DEFAULT_MTU = 1500


@dataclass(frozen=True)
class InterfaceConfig:
    name: str = setting(
        "tap0",
        "TAP device; attached to if it already exists (a persistent TAP), else created and removed on exit",
        kind="ifname",
    )
    create: bool = setting(True, "`false`: only attach to an existing TAP, never create", kind="bool")
    mtu: int | None = setting(
        None,
        "TAP MTU; any value works over any underlay for native peers (frames are fragmented inside the tunnel); "
        "a legacy peer's format fits less, and by default the TAP gets what the smallest one fits",
        kind="int",
        lo=576,
        hi=65000,
        shown="`1500`, or what a legacy peer fits",
    )
    addresses: tuple[IPInterface, ...] = setting((), '`"10.1.2.3/24"`, `"fd00::1/64"`, ...', kind="interfaces")
    offload: bool = setting(
        True,
        "TAP offloads: 64 KB TSO super-frames per read/write, virtio-net header carried "
        "end to end; a peer with `false` still interoperates",
        kind="bool",
    )
    mac: str | None = setting(
        None,
        "default: a stable locally administered MAC derived from the public key and interface name",
        kind="mac",
        shown="derived",
    )


@dataclass(frozen=True)
class TunnelConfig:
    listen: Endpoint = setting(
        Endpoint("0.0.0.0", DEFAULT_PORT),
        'UDP address; `":9123"` = all IPv4, `"[::]:9123"` = dual stack',
        kind="listen",
    )
    private_key_file: Path = setting(
        Path("/etc/tapliance/host.key"), "from `tapliance genkey`; must be mode 0600 or stricter", kind="path"
    )
    suite: str = setting(
        "chacha20-poly1305",
        "or `aes-256-gcm`; both peers must agree (a mismatch is reported as `suite_mismatch`)",
        kind="choice",
        choices=NATIVE,
    )
    keepalive: float = setting(
        10.0,
        "seconds of silence before an empty keepalive; keeps NAT mappings alive and detects dead peers; `0` off",
        kind="number",
        lo=0,
        hi=3600,
    )
    underlay_mtu: int = setting(
        1500,
        "largest IP packet the underlay carries; native datagrams are sized to fit, DF set (a legacy peer's "
        "socket IP-fragments a forwarded frame its format cannot fit, as the originals do)",
        kind="int",
        lo=576,
        hi=65535,
    )
    rekey_after_seconds: float = setting(
        120.0, "new session keys this often (forward secrecy)", kind="number", lo=1, hi=86400
    )
    rekey_after_bytes: int = setting(
        1 << 36, "or after this many bytes under one key", kind="int", lo=1 << 16, hi=1 << 60, shown="`2^36`"
    )
    handshake_rate: int = setting(
        50,
        "handshake messages/s processed from one source network (/24, /64); more are dropped unanswered",
        kind="int",
        lo=1,
        hi=100000,
    )
    handshake_cpu: float = setting(
        0.01,
        "share of one CPU core handshakes may use (measured); past it every handshake needs a cookie (mac2)",
        kind="number",
        lo=0.001,
        hi=1,
    )
    passphrase_guesses: int = setting(
        10,
        "shared-secret mode: pairing runs (each tests one passphrase guess) per minute in all, answered or "
        "started; from one /24 or /64 at most 3, then a quarter of the rate",
        kind="int",
        lo=1,
        hi=600,
    )
    control_socket: Path | None = setting(
        None, "where `tapliance status` connects", kind="path", shown="`/run/tapliance/<name>.sock`"
    )
    peers_dir: Path | None = setting(
        None,
        "more `[[peer]]` tables, one or more per `*.toml` file (what `tapliance peer add` writes; `tapliance "
        "reload` applies changes)",
        kind="path",
        shown="`peers.d` beside the config, if it exists",
    )
    tcp_listen: Endpoint | None = setting(
        None,
        'TCP address for peers with `transport = "tcp"`/`"auto"` that dial us, e.g. `":443"`',
        kind="listen",
        shown="none (no TCP listener)",
    )
    tcp_share_backend: Endpoint | None = setting(
        None,
        "port sharing: connections to `tcp_listen` that are not QuickTun TCP (its preamble) are passed "
        'unchanged to this server, e.g. `"127.0.0.1:8443"` for HTTPS or `"127.0.0.1:22"` for SSH',
        kind="endpoint",
        shown="none",
    )
    tcp_proxy_protocol: bool = setting(
        False, "port sharing: send the backend a PROXY protocol v2 header (the real client address)", kind="bool"
    )
    fastpath: bool | None = setting(
        None,
        "the data path: unset, the compiled worker thread where it can run (a point-to-point peer over UDP) and "
        "the Python path elsewhere; `true`, the compiled path everywhere it is built (in the loop where no worker "
        "can run); `false`, the pure-Python path; `TAPLIANCE_FASTPATH=1`/`0` in the environment overrides; "
        "`TAPLIANCE_TAP_QUEUES=2` gives a TAP the daemon creates for the worker a second queue with a send-only "
        "worker thread of its own (measured no better in the bench, so one queue is the default)",
        kind="bool",
        shown="unset (auto)",
    )


@dataclass(frozen=True)
class BridgeConfig:
    name: str = setting(
        "", "bridge to create; the TAP joins it", kind="ifname", required="the bridge device to create, e.g. br0"
    )
    ports: tuple[str, ...] = setting((), "other members, e.g. the LAN uplink", kind="ifnames")
    take_over: str | None = setting(
        None,
        "a member whose addresses and default route move to the bridge (restored on exit)",
        kind="ifname",
        shown="none",
    )
    stp: bool = setting(False, "spanning tree", kind="bool")
    forward_delay: float = setting(15.0, "spanning tree forward delay, seconds", kind="number", lo=2, hi=30)
    addresses: tuple[IPInterface, ...] = setting((), "the bridge's own addresses", kind="interfaces")


@dataclass(frozen=True)
class NatConfig:
    uplink: str = setting(
        "", "interface to masquerade out of", kind="ifname", required="the interface traffic leaves by, e.g. eth0"
    )
    masquerade: bool = setting(True, "source NAT for tunnel traffic", kind="bool")
    sources: tuple[IPNetwork, ...] = setting(
        (), "which source networks may leave through the uplink", kind="networks", shown="TAP networks"
    )


@dataclass(frozen=True)
class RouteConfig:
    to: IPNetwork = setting(
        None,
        'destination network, e.g. `"192.168.1.0/24"`',
        kind="network",
        required="destination network, e.g. 192.168.1.0/24",
    )
    via: IPAddress | None = setting(None, 'gateway, e.g. `"10.1.2.3"`', kind="address", shown="none")
    dev: str | None = setting(None, "interface", kind="ifname", shown="the TAP")


@dataclass(frozen=True)
class LogConfig:
    level: str = setting(
        "info", "`debug`, `info`, `warning`, `error`", kind="choice", choices=("debug", "info", "warning", "error")
    )
    format: str = setting(
        "text",
        "`text`: one line per event with key=value fields (journald fields too under journald); `json`: one JSON "
        "object per line (`tapliance up --log-format` overrides)",
        kind="choice",
        choices=("text", "json"),
    )


@dataclass(frozen=True)
class MetricsConfig:
    listen: Endpoint | None = setting(
        None,
        'HTTP address for Prometheus metrics (`/metrics`), the status page (`/`) and `/api/status`, e.g. `":9124"` '
        '(loopback) or `"0.0.0.0:9124"`; unset: off',
        kind="listen_loopback",
        shown="off",
    )
    token_file: Path | None = setting(
        None,
        "a file holding a bearer token every request must present (`Authorization: Bearer ...`); mode 0600 or 0640",
        kind="path",
        shown="none",
    )


@dataclass(frozen=True)
class DaemonConfig:
    user: str | None = setting(
        None,
        "once the TAP, sockets and host setup exist, run as this user keeping only CAP_NET_ADMIN "
        '(docs/security.md); `""`: stay as started; a daemon started unprivileged is left as it is',
        kind="str",
        shown="`tapliance` where that user exists",
    )
    group: str | None = setting(
        None, "the group to run as; the control socket is readable by root and it", kind="str", shown="the user's"
    )


@dataclass(frozen=True)
class Config:
    path: Path
    interface: InterfaceConfig = field(default_factory=InterfaceConfig)
    tunnel: TunnelConfig = field(default_factory=TunnelConfig)
    peers: tuple[PeerConfig, ...] = ()
    bridge: BridgeConfig | None = None
    nat: NatConfig | None = None
    routes: tuple[RouteConfig, ...] = ()
    log: LogConfig = field(default_factory=LogConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    pool: PoolConfig | None = None
    daemon: DaemonConfig = field(default_factory=DaemonConfig)

    @property
    def log_level(self) -> str:
        return self.log.level

    @property
    def tap_mtu(self) -> int:
        """The TAP's MTU: ``interface.mtu`` if set; else 1500, or less where a legacy peer's format fits less
        over the underlay (tinytaptunnel fits 1418 over 1500, tappet 1402)."""
        if self.interface.mtu is not None:
            return self.interface.mtu
        fits = [DEFAULT_MTU]
        for p in self.peers:
            codec = REGISTRY[p.suite].codec if p.legacy else None
            if codec is not None:
                host = (p.listen or p.endpoint or self.tunnel.listen).host
                fits.append(codec.tap_mtu(self.tunnel.underlay_mtu, ":" in host))
        return min(fits)

    @property
    def tap_offload(self) -> bool:
        """TAP offloads (super-frames) when ``interface.offload`` and at least one native peer can use them:
        a legacy peer takes plain frames only, so without native peers the kernel segments (in C) rather
        than the switch (in Python)."""
        return self.interface.offload and any(not p.legacy for p in self.peers)

    @property
    def leases_file(self) -> Path:
        configured = self.pool.leases_file if self.pool else None
        return configured or Path(f"/var/lib/tapliance/{self.interface.name}.leases")

    @property
    def control_socket(self) -> Path:
        return self.tunnel.control_socket or Path(f"/run/tapliance/{self.interface.name}.sock")


# TOML table -> (dataclass, how it appears: "table" [x], "array" [[x]])
SECTIONS: dict[str, tuple[type, str]] = {
    "interface": (InterfaceConfig, "table"),
    "tunnel": (TunnelConfig, "table"),
    "peer": (PeerConfig, "array"),
    "bridge": (BridgeConfig, "table"),
    "nat": (NatConfig, "table"),
    "route": (RouteConfig, "array"),
    "log": (LogConfig, "table"),
    "metrics": (MetricsConfig, "table"),
    "pool": (PoolConfig, "table"),
    "daemon": (DaemonConfig, "table"),
}
