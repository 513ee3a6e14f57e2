"""Daemon lifecycle: load config and keys, bring up TAP -> UDP -> host network setup -> control
socket, run the loop, and on SIGTERM/SIGINT (or any failure) tear down in exactly reverse order.

Nothing is half-configured: every step registers its undo before the next step starts, so a failure
in step N undoes steps N-1..1 and the process exits with a one-line error.
"""

from __future__ import annotations

import base64
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tapliance import config as C
from tapliance import keyfile
from tapliance.assembly import Keys, build_node, peer_specs
from tapliance.proto.native.peer import PeerSpec
from tapliance.suites import REGISTRY

if TYPE_CHECKING:
    from tapliance.control.server import ControlServer
    from tapliance.runtime.loop import Runtime

log = logging.getLogger("tapliance")


class StartupError(RuntimeError):
    """Runtime failure while starting (exit 1), already phrased for the operator."""


def _load(path: str | Path) -> tuple[C.Config, Keys, list[PeerSpec]]:
    cfg = C.load(path)
    if not cfg.peers:
        raise C.ConfigError(f"{cfg.path}: peer: no [[peer]] configured; a tunnel needs at least one")
    keys = Keys(cfg)
    if any(not p.legacy for p in cfg.peers):
        keys.private()  # read (and checked) up front when native peers need it
    return cfg, keys, peer_specs(cfg, keys)


def check(path: str | Path) -> str:
    """Validate config and key files; return a human summary (raises ConfigError/KeyFileError)."""
    cfg, keys, specs = _load(path)
    lines = [
        f"{cfg.path}: OK",
        f"  interface {cfg.interface.name} mtu {cfg.tap_mtu} "
        f"addresses {', '.join(map(str, cfg.interface.addresses)) or '(none)'}",
    ]
    if specs:
        lines.append(
            f"  listen udp {cfg.tunnel.listen}  suite {cfg.tunnel.suite}  public key {keyfile.encode(keys.public())}"
        )
    for s in specs:
        ep = f"{s.endpoint[0]}:{s.endpoint[1]}" if s.endpoint else "learned from its first packet"
        lines.append(
            f"  peer {s.name or '(unnamed)'} {base64.b64encode(s.public_key).decode()} endpoint {ep}"
            f"{' psk' if s.psk else ''}"
        )
    lines += _legacy_lines(cfg, keys)
    if cfg.bridge:
        lines.append(f"  bridge {cfg.bridge.name} ports {', '.join((cfg.interface.name, *cfg.bridge.ports))}")
    if cfg.nat:
        lines.append(f"  nat out of {cfg.nat.uplink}")
    for r in cfg.routes:
        lines.append(f"  route {r.to}" + (f" via {r.via}" if r.via else "") + f" dev {r.dev or cfg.interface.name}")
    return "\n".join(lines)


def _legacy_lines(cfg: C.Config, keys: Keys) -> list[str]:
    """Each legacy peer: its suite and socket, its key material checked (without the writes a start does),
    and the weakness of an insecure suite."""
    from tapliance.compat.build import check_codec, listen_address

    lines = []
    for i, p in enumerate(cfg.peers):
        if not p.legacy:
            continue
        notes = check_codec(p, keys.private)
        ep = str(p.endpoint) if p.endpoint else "learned from its first authenticated datagram"
        name = p.name or f"{p.suite}-{i}"
        lines.append(f"  peer {name} suite {p.suite} listen udp {listen_address(p)} endpoint {ep}")
        lines += [f"    {n}" for n in notes]
        weakness = REGISTRY[p.suite].insecure
        if weakness:
            lines.append(f"    INSECURE (allow_insecure = true): {weakness}")
    return lines


def _setup_logging(level: str) -> None:
    # systemd/journald adds timestamps; a terminal user gets them from us.
    fmt = (
        "%(levelname)s %(message)s"
        if os.environ.get("JOURNAL_STREAM")
        else "%(asctime)s tapliance[%(process)d] %(levelname)s %(message)s"
    )
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format=fmt)
    logging.getLogger("pyroute2").setLevel(logging.WARNING)  # its debug output is per netlink message


def run(path: str | Path, *, apply_net: bool = True) -> int:
    cfg, keys, specs = _load(path)  # bad input raises before anything is touched
    _setup_logging(cfg.log_level)
    from tapliance.runtime.tap import TapError
    from tapliance.runtime.udp import UdpError

    undo: list[tuple[str, Callable[[], object]]] = []
    try:
        rt, control = _start(cfg, keys, undo, apply_net)
        _log_up(cfg, keys, specs)
        rt.run(control)
        return 0
    except (TapError, UdpError, StartupError, RuntimeError, OSError) as e:
        msg = getattr(e, "strerror", None) or str(e)
        print(f"tapliance: {msg}", file=sys.stderr)
        return getattr(e, "exit_code", 1)
    finally:
        for what, fn in reversed(undo):
            try:
                fn()
            except Exception as e:  # teardown must go on: report and continue with the next step
                log.error("tearing down %s: %s", what, e)
        if undo:
            log.info("down: %s", cfg.interface.name)


def _log_up(cfg: C.Config, keys: Keys, specs: list[PeerSpec]) -> None:
    if specs:
        log.info(
            "up: %s <-> udp %s, %d native peer(s), suite %s, public key %s",
            cfg.interface.name,
            cfg.tunnel.listen,
            len(specs),
            cfg.tunnel.suite,
            keyfile.encode(keys.public()),
        )
    for i, p in enumerate(cfg.peers):
        if p.legacy:
            name = p.name or f"{p.suite}-{i}"
            log.info("up: %s <-> peer %s, suite %s", cfg.interface.name, name, p.suite)
            weakness = REGISTRY[p.suite].insecure
            if weakness:
                log.warning("peer %s: suite %s is insecure: %s (allow_insecure = true)", name, p.suite, weakness)


def _start(
    cfg: C.Config, keys: Keys, undo: list[tuple[str, Callable[[], object]]], apply_net: bool
) -> tuple[Runtime, ControlServer]:
    """Node (key material read first) -> TAP -> UDP sockets -> host network setup -> control socket,
    each undo registered before the next step starts."""
    from tapliance.control.server import ControlServer
    from tapliance.proto.legacy import LegacyProtocol
    from tapliance.proto.protocol import IPV4_UDP_OVERHEAD, IPV6_UDP_OVERHEAD
    from tapliance.runtime import udp
    from tapliance.runtime.loop import Runtime
    from tapliance.runtime.tap import Tap, stable_mac

    now = time.monotonic()
    node, bindings = build_node(
        cfg, keys, tap_vnet=cfg.interface.offload, random=os.urandom, now=now, unix_offset=time.time() - now
    )
    tap = Tap(cfg.interface, cfg.tap_mtu)
    tap.open()
    undo.append(("TAP", tap.close))
    tap.configure(default_mac=stable_mac(_mac_seed(cfg, keys), cfg.interface.name))
    transports = []
    for proto, listen in bindings:
        legacy = isinstance(proto, LegacyProtocol)  # IP-fragments what does not fit, as the originals do
        sock = udp.bind(listen, fragment=legacy)
        undo.append((f"UDP socket {listen}", sock.close))
        fits = cfg.tunnel.underlay_mtu - (IPV6_UDP_OVERHEAD if ":" in listen.host else IPV4_UDP_OVERHEAD)
        gso_max = fits if legacy else udp.GSO_MAX_BYTES
        transports.append(
            udp.UdpTransport(sock, proto, node.drops, gso=True, gro=udp.enable_gro(sock), gso_max=gso_max)
        )
    if apply_net and (cfg.bridge or cfg.nat or cfg.routes):
        _apply_net(cfg, undo)
    rt = Runtime(node, tap.fd, transports, ifname=cfg.interface.name, listen=str(cfg.tunnel.listen))
    control = ControlServer(cfg.control_socket, rt.snapshot)
    undo.append(("control socket", control.close))
    return rt, control


def _mac_seed(cfg: C.Config, keys: Keys) -> bytes:
    """What the stable TAP MAC is derived from: our public key, or with legacy peers only, the config path."""
    if any(not p.legacy for p in cfg.peers):
        return keys.public()
    return str(cfg.path.resolve()).encode()


def _apply_net(cfg: C.Config, undo: list[tuple[str, Callable[[], object]]]) -> None:
    from tapliance import net

    for line in net.apply(cfg):
        log.info("net: %s", line)

    def net_teardown() -> None:
        for x in net.teardown(cfg):
            log.info("net: %s", x)

    undo.append(("host network setup", net_teardown))
