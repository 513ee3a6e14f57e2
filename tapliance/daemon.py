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
from tapliance.assembly import build_node, peer_specs
from tapliance.proto.native.peer import PeerSpec

if TYPE_CHECKING:
    from tapliance.control.server import ControlServer
    from tapliance.runtime.loop import Runtime

log = logging.getLogger("tapliance")


class StartupError(RuntimeError):
    """Runtime failure while starting (exit 1), already phrased for the operator."""


def _load(path: str | Path) -> tuple[C.Config, bytes, list[PeerSpec]]:
    cfg = C.load(path)
    priv = keyfile.read(cfg.tunnel.private_key_file, "private key")
    return cfg, priv, peer_specs(cfg, priv)


def check(path: str | Path) -> str:
    """Validate config and key files; return a human summary (raises ConfigError/KeyFileError)."""
    cfg, priv, specs = _load(path)
    lines = [
        f"{cfg.path}: OK",
        f"  interface {cfg.interface.name} mtu {cfg.interface.mtu} "
        f"addresses {', '.join(map(str, cfg.interface.addresses)) or '(none)'}",
        f"  listen udp {cfg.tunnel.listen}  suite {cfg.tunnel.suite}  "
        f"public key {keyfile.encode(keyfile.public_from_private(priv))}",
    ]
    for s in specs:
        ep = f"{s.endpoint[0]}:{s.endpoint[1]}" if s.endpoint else "learned from its first packet"
        lines.append(
            f"  peer {s.name or '(unnamed)'} {base64.b64encode(s.public_key).decode()} endpoint {ep}"
            f"{' psk' if s.psk else ''}"
        )
    if cfg.bridge:
        lines.append(f"  bridge {cfg.bridge.name} ports {', '.join((cfg.interface.name, *cfg.bridge.ports))}")
    if cfg.nat:
        lines.append(f"  nat out of {cfg.nat.uplink}")
    for r in cfg.routes:
        lines.append(f"  route {r.to}" + (f" via {r.via}" if r.via else "") + f" dev {r.dev or cfg.interface.name}")
    return "\n".join(lines)


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
    cfg, priv, specs = _load(path)  # bad input raises before anything is touched
    _setup_logging(cfg.log_level)
    from tapliance.runtime.tap import TapError
    from tapliance.runtime.udp import UdpError

    undo: list[tuple[str, Callable[[], object]]] = []
    try:
        rt, control = _start(cfg, priv, specs, undo, apply_net)
        log.info(
            "up: %s <-> udp %s, %d peer(s), suite %s, public key %s",
            cfg.interface.name,
            cfg.tunnel.listen,
            len(specs),
            cfg.tunnel.suite,
            keyfile.encode(keyfile.public_from_private(priv)),
        )
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


def _start(
    cfg: C.Config, priv: bytes, specs: list[PeerSpec], undo: list[tuple[str, Callable[[], object]]], apply_net: bool
) -> tuple[Runtime, ControlServer]:
    """TAP -> UDP socket -> host network setup -> node -> control socket, each undo registered before
    the next step starts."""
    from tapliance.control.server import ControlServer
    from tapliance.runtime import udp
    from tapliance.runtime.loop import Runtime
    from tapliance.runtime.tap import Tap, stable_mac

    tap = Tap(cfg.interface)
    tap.open()
    undo.append(("TAP", tap.close))
    tap.configure(default_mac=stable_mac(keyfile.public_from_private(priv), cfg.interface.name))
    now = time.monotonic()
    node, bindings = build_node(
        cfg, priv, specs, tap_vnet=tap.vnet, random=os.urandom, now=now, unix_offset=time.time() - now
    )
    transports = []
    for proto, listen in bindings:
        sock = udp.bind(listen)
        undo.append((f"UDP socket {listen}", sock.close))
        transports.append(udp.UdpTransport(sock, proto, node.drops, gso=True, gro=udp.enable_gro(sock)))
    if apply_net and (cfg.bridge or cfg.nat or cfg.routes):
        _apply_net(cfg, undo)
    rt = Runtime(node, tap.fd, transports, ifname=cfg.interface.name, listen=str(cfg.tunnel.listen))
    control = ControlServer(cfg.control_socket, rt.snapshot)
    undo.append(("control socket", control.close))
    return rt, control


def _apply_net(cfg: C.Config, undo: list[tuple[str, Callable[[], object]]]) -> None:
    from tapliance import net

    for line in net.apply(cfg):
        log.info("net: %s", line)

    def net_teardown() -> None:
        for x in net.teardown(cfg):
            log.info("net: %s", x)

    undo.append(("host network setup", net_teardown))
