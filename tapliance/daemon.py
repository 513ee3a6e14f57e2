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
from tapliance import keyfile, logs, privileges
from tapliance.assembly import Built, Keys, build_node, peer_specs
from tapliance.hub.service import hub_side
from tapliance.proto.native.peer import PeerSpec
from tapliance.suites import REGISTRY
from tapliance.summary import legacy_lines, tcp_lines
from tapliance.tcpdaemon import handout, remember_endpoints, tcp_side

if TYPE_CHECKING:
    from tapliance.control.server import ControlServer
    from tapliance.proto.node import Node
    from tapliance.runtime.loop import Runtime, Transport
    from tapliance.runtime.tap import Tap

log = logging.getLogger("tapliance")
Undo = list[tuple[str, Callable[[], object]]]


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
    _metrics_token(cfg)  # what `up` would refuse, check-config refuses
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
        named = {p.public_key: p.endpoint for p in cfg.peers if p.udp and p.endpoint and p.endpoint.is_name}
        ep = f"{s.endpoint[0]}:{s.endpoint[1]}" if s.endpoint else "learned from its first packet"
        if s.public_key in named:
            ep = f"{named[s.public_key]} (a DNS name, resolved at start)"
        who = "known by a passphrase (pairs by SPAKE2)" if s.passphrase else base64.b64encode(s.public_key).decode()
        lines.append(f"  peer {s.name or '(unnamed)'} {who} endpoint {ep}{' psk' if s.psk else ''}")
    lines += legacy_lines(cfg, keys) + tcp_lines(cfg)
    if cfg.bridge:
        lines.append(f"  bridge {cfg.bridge.name} ports {', '.join((cfg.interface.name, *cfg.bridge.ports))}")
    if cfg.nat:
        lines.append(f"  nat out of {cfg.nat.uplink}")
    for r in cfg.routes:
        lines.append(f"  route {r.to}" + (f" via {r.via}" if r.via else "") + f" dev {r.dev or cfg.interface.name}")
    return "\n".join(lines)


def run(path: str | Path, *, apply_net: bool = True, log_format: str | None = None) -> int:
    cfg, keys, specs = _load(path)  # bad input raises before anything is touched
    token = _metrics_token(cfg)
    user = privileges.resolve(cfg)
    logs.setup(cfg.log_level, log_format or cfg.log.format)
    from tapliance.net.errors import BAD_INPUT, NetError
    from tapliance.runtime import systemd
    from tapliance.runtime.http import HttpError
    from tapliance.runtime.tap import TapError
    from tapliance.runtime.udp import UdpError

    undo: list[tuple[str, Callable[[], object]]] = []
    try:
        rt, control = _start(cfg, keys, undo, apply_net, token)
        privileges.apply(cfg, user)  # from here on: the daemon's user, CAP_NET_ADMIN only
        _log_up(cfg, keys, specs)
        _tell_systemd(rt, cfg, len(cfg.peers))
        rt.run(control)
        systemd.notify("STOPPING=1")
        return 0
    except (TapError, UdpError, HttpError, StartupError, RuntimeError, OSError) as e:
        msg = getattr(e, "strerror", None) or str(e)
        if isinstance(e, NetError) and e.exit_code == BAD_INPUT:
            msg = f"{cfg.path}: {msg}"  # the config asks for what this host cannot do: name the config
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
    cfg: C.Config, keys: Keys, undo: list[tuple[str, Callable[[], object]]], apply_net: bool, token: bytes | None
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
    built = build_node(
        cfg,
        keys,
        tap_vnet=cfg.tap_offload,
        random=os.urandom,
        now=now,
        unix_offset=time.time() - now,
        cpu_time=time.process_time,
    )
    node, bindings = built.node, built.bindings
    for proto, _ in bindings:
        if isinstance(proto, LegacyProtocol):  # last to be undone: an otp pad's exact offsets written
            undo.append((f"peer {proto.peer.name}", proto.close))
    from tapliance.runtime.tap import GSO_MAX_SIZE, GSO_MAX_SIZE_TCP

    tap = Tap(cfg.interface, cfg.tap_mtu, cfg.tap_offload, GSO_MAX_SIZE_TCP if built.tcp else GSO_MAX_SIZE)
    tap.open()
    undo.append(("TAP", tap.close))
    tap.configure(default_mac=stable_mac(_mac_seed(cfg, keys), cfg.interface.name))
    transports: list[Transport] = []
    for proto, listen in bindings:
        legacy = isinstance(proto, LegacyProtocol)  # IP-fragments what does not fit, as the originals do
        sock = udp.bind(listen, fragment=legacy)
        undo.append((f"UDP socket {listen}", sock.close))
        fits = cfg.tunnel.underlay_mtu - (IPV6_UDP_OVERHEAD if ":" in listen.host else IPV4_UDP_OVERHEAD)
        gso_max = fits if legacy else udp.GSO_MAX_BYTES
        transports.append(
            udp.UdpTransport(sock, proto, node.drops, gso=True, gro=udp.enable_gro(sock), gso_max=gso_max)
        )
    transports += tcp_side(cfg, built, undo)
    transports = _worker(node, transports, tap, cfg.tap_offload, undo)
    if apply_net and (cfg.bridge or cfg.nat or cfg.routes):
        _apply_net(cfg, undo)
    rt = Runtime(node, tap.fd, transports, ifname=cfg.interface.name, listen=str(cfg.tunnel.listen))
    handout(cfg, rt, undo)
    remember_endpoints(cfg, built, rt)
    _status_side(cfg, rt, undo, token)
    if cfg.pool is not None:
        rt.hub = hub_side(cfg, rt, node.switch)
    control = ControlServer(cfg.control_socket, rt.snapshot)
    _reloads(cfg, keys, built, rt, control)
    undo.append(("control socket", control.close))
    return rt, control


def _worker(node: Node, transports: list[Transport], tap: Tap, vnet: bool, undo: Undo) -> list[Transport]:
    """The compiled path's worker thread in front of the UDP transport, where it can run (runtime/worker.py);
    stopped before the TAP and the socket close."""
    from tapliance.runtime import worker

    transports = worker.wrap(node, transports, [tap.fd, *tap.extra_fds], vnet)
    workers = [t for t in transports if isinstance(t, worker.DataWorker)]
    for t in workers:
        undo.append(("data worker", t.stop))
    if not workers:
        tap.single_queue()  # no worker reads the other queues: the kernel would queue frames there unread
    return transports


def _reloads(cfg: C.Config, keys: Keys, built: Built, rt: Runtime, control: ControlServer) -> None:
    """``tapliance reload`` (the control socket's ``reload``) and SIGHUP apply peer changes (reload.py)."""
    from tapliance.reload import Reloader

    hub = getattr(rt, "hub", None)
    reloader = Reloader(cfg.path, cfg, keys, built, on_peers=hub.update if hub is not None else None)

    control.actions[b"reload"] = reloader.reload
    rt.on_reload = reloader.reload


def _status_side(cfg: C.Config, rt: Runtime, undo: list[tuple[str, Callable[[], object]]], token: bytes | None) -> None:
    """Reasons and history for the snapshot; the metrics listener (status page, /api/status) if configured."""
    from tapliance.control.status import StatusSide
    from tapliance.control.web import PUBLIC, routes
    from tapliance.runtime import http

    side = StatusSide()
    rt.enrich = side.enrich
    side.sample(rt.snapshot())
    rt.every(side.history.step, lambda _now: side.sample(rt.snapshot()))
    if cfg.metrics.listen is not None:
        sock = http.listen(cfg.metrics.listen)
        server = http.HttpServer(sock, routes(rt.snapshot, side.history), token, PUBLIC)
        undo.append((f"metrics listener {cfg.metrics.listen}", server.close))
        rt.transports.append(server)
        log.info(
            "metrics, status page and /api/status on http://%s/%s",
            cfg.metrics.listen,
            " (bearer token required)" if token else "",
        )


def _metrics_token(cfg: C.Config) -> bytes | None:
    """The bearer token from ``metrics.token_file``: readable by owner and group only (0600 or 0640)."""
    path = cfg.metrics.token_file
    if path is None:
        return None
    try:
        st = os.stat(path)
        text = path.read_bytes().strip()
    except OSError as e:
        raise C.ConfigError(f"{path}: metrics token file: {e.strerror}") from None
    if st.st_mode & 0o007:
        raise keyfile.KeyFileError(f"{path}: metrics token file is readable by others; run `chmod 640 {path}`")
    if len(text) < 16 or b" " in text or b"\n" in text:
        raise C.ConfigError(f"{path}: metrics token file: one line of at least 16 characters, no spaces")
    return text


def _tell_systemd(rt: Runtime, cfg: C.Config, peers: int) -> None:
    """READY=1 once the TAP, sockets and host setup are up; WATCHDOG=1 pings if the unit has WatchdogSec."""
    from tapliance.runtime import systemd

    systemd.notify(f"READY=1\nSTATUS=up: {cfg.interface.name}, {peers} peer(s)")
    interval = systemd.watchdog_interval()
    if interval is not None:

        def ping(_now: float) -> None:
            systemd.notify("WATCHDOG=1")

        rt.every(interval, ping)


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
