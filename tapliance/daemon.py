"""Daemon lifecycle: load config and keys, bring up TAP -> UDP -> host network setup -> control
socket, run the loop, and on SIGTERM/SIGINT (or any failure) tear down in exactly reverse order.

Nothing is half-configured: every step registers its undo before the next step starts, so a failure
in step N undoes steps N-1..1 and the process exits with a one-line error.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tapliance import config as C
from tapliance import keyfile
from tapliance.proto.peer import PeerSpec

log = logging.getLogger("tapliance")


class StartupError(RuntimeError):
    """Runtime failure while starting (exit 1), already phrased for the operator."""


def _load(path: str | Path) -> tuple[C.Config, bytes, list[PeerSpec]]:
    cfg = C.load(path)
    priv = keyfile.read(cfg.tunnel.private_key_file, "private key")
    specs = []
    for i, p in enumerate(cfg.peers):
        psk = keyfile.read(p.preshared_key_file, "pre-shared key") if p.preshared_key_file else None
        if p.public_key == keyfile.public_from_private(priv):
            raise C.ConfigError(f"{cfg.path}: peer[{i}].public_key: this is our own public key")
        ep = (p.endpoint.host, p.endpoint.port) if p.endpoint else None
        keepalive = cfg.tunnel.keepalive if p.keepalive is None else p.keepalive
        specs.append(PeerSpec(p.public_key, p.name, ep, psk, keepalive))
    if not specs:
        raise C.ConfigError(f"{cfg.path}: peer: no [[peer]] configured; a tunnel needs at least one")
    return cfg, priv, specs


def check(path: str | Path) -> str:
    """Validate config and key files; return a human summary (raises ConfigError/KeyFileError)."""
    cfg, priv, specs = _load(path)
    lines = [f"{cfg.path}: OK",
             f"  interface {cfg.interface.name} mtu {cfg.interface.mtu} "
             f"addresses {', '.join(map(str, cfg.interface.addresses)) or '(none)'}",
             f"  listen udp {cfg.tunnel.listen}  suite {cfg.tunnel.suite}  "
             f"public key {keyfile.encode(keyfile.public_from_private(priv))}"]
    for s in specs:
        ep = f"{s.endpoint[0]}:{s.endpoint[1]}" if s.endpoint else "learned from its first packet"
        lines.append(f"  peer {s.name or '(unnamed)'} {base64.b64encode(s.public_key).decode()} endpoint {ep}"
                     f"{' psk' if s.psk else ''}")
    if cfg.bridge:
        lines.append(f"  bridge {cfg.bridge.name} ports {', '.join((cfg.interface.name, *cfg.bridge.ports))}")
    if cfg.nat:
        lines.append(f"  nat out of {cfg.nat.uplink}")
    for r in cfg.routes:
        lines.append(f"  route {r.to}" + (f" via {r.via}" if r.via else "") + f" dev {r.dev or cfg.interface.name}")
    return "\n".join(lines)


def _setup_logging(level: str) -> None:
    # systemd/journald adds timestamps; a terminal user gets them from us.
    fmt = "%(levelname)s %(message)s" if os.environ.get("JOURNAL_STREAM") else \
        "%(asctime)s tapliance[%(process)d] %(levelname)s %(message)s"
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format=fmt)
    logging.getLogger("pyroute2").setLevel(logging.WARNING)  # its debug output is per netlink message


def run(path: str | Path, *, apply_net: bool = True) -> int:
    cfg, priv, specs = _load(path)  # bad input raises before anything is touched
    _setup_logging(cfg.log_level)
    from tapliance.control.server import ControlServer
    from tapliance.proto.node import Node
    from tapliance.runtime import udp
    from tapliance.runtime.loop import Runtime
    from tapliance.runtime.tap import Tap, TapError, stable_mac

    undo: list[tuple[str, Callable[[], object]]] = []
    try:
        tap = Tap(cfg.interface)
        tap.open()
        undo.append(("TAP", tap.close))
        tap.configure(default_mac=stable_mac(keyfile.public_from_private(priv), cfg.interface.name))
        sock = udp.bind(cfg.tunnel.listen)
        undo.append(("UDP socket", sock.close))
        if apply_net and (cfg.bridge or cfg.nat or cfg.routes):
            from tapliance import net

            for line in net.apply(cfg):
                log.info("net: %s", line)
            def net_teardown() -> None:
                for x in net.teardown(cfg):
                    log.info("net: %s", x)

            undo.append(("host network setup", net_teardown))
        now = time.monotonic()
        node = Node(static_private=priv, peers=specs, random=os.urandom, now=now,
                    unix_offset=time.time() - now, suite=cfg.tunnel.suite,
                    underlay_mtu=cfg.tunnel.underlay_mtu,
                    ipv6=ipaddress.ip_address(cfg.tunnel.listen.host).version == 6,
                    rekey_after_seconds=cfg.tunnel.rekey_after_seconds,
                    rekey_after_bytes=cfg.tunnel.rekey_after_bytes, handshake_rate=cfg.tunnel.handshake_rate,
                    vnet=tap.vnet)
        rt = Runtime(node, tap.fd, sock, ifname=cfg.interface.name, listen=str(cfg.tunnel.listen),
                     gso=True, gro=udp.enable_gro(sock))
        control = ControlServer(cfg.control_socket, rt.snapshot)
        undo.append(("control socket", control.close))
        log.info("up: %s <-> udp %s, %d peer(s), suite %s, public key %s", cfg.interface.name,
                 cfg.tunnel.listen, len(specs), cfg.tunnel.suite,
                 keyfile.encode(keyfile.public_from_private(priv)))
        rt.run(control)
        return 0
    except (TapError, udp.UdpError, StartupError, RuntimeError, OSError) as e:
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
