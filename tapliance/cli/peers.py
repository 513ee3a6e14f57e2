"""``tapliance reload`` and ``tapliance peer add|remove``: change the peers of a running daemon."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from tapliance import config as C
from tapliance.cli.commands import UsageError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def _socket(args: argparse.Namespace, cfg: C.Config | None = None) -> Path:
    if getattr(args, "socket", None) is not None:
        return Path(args.socket)
    return (cfg or C.load(args.config)).control_socket


def _print(reply: dict[str, Any]) -> int:
    if not reply.get("ok"):
        print(f"tapliance: reload refused, the running configuration is kept: {reply.get('error')}", file=sys.stderr)
        return 2
    for what in ("added", "removed", "changed"):
        if reply.get(what):
            print(f"{what}: {', '.join(reply[what])}")
    for line in reply.get("needs_restart") or []:
        print(f"not applied, needs a restart: {line}")
    if not any(reply.get(k) for k in ("added", "removed", "changed", "needs_restart")):
        print("no peer changed")
    return 0


def reload(args: argparse.Namespace, cfg: C.Config | None = None) -> int:
    from tapliance.control import client

    try:
        reply = client.fetch(_socket(args, cfg), "reload", timeout=15)
    except client.ControlError as e:
        print(f"tapliance: {e}", file=sys.stderr)
        return 1
    return _print(reply)


def _peers_dir(cfg: C.Config) -> Path:
    return cfg.tunnel.peers_dir or cfg.path.parent / "peers.d"


def add(args: argparse.Namespace) -> int:
    if not NAME_RE.match(args.name):
        raise UsageError(f"peer add: {args.name!r} is not a peer name (letters, digits, _ . -; 1-63)")
    if C.parse_public_key(args.public_key) is None:  # a one-line error for a bad key, before anything is written
        raise UsageError(f"peer add: {args.public_key!r} is not a public key (`tapliance pubkey` output)")
    cfg = C.load(args.config)
    d = _peers_dir(cfg)
    f = d / f"{args.name}.toml"
    if f.exists():
        raise UsageError(f"peer add: {f} exists (tapliance peer remove {args.name} first)")
    lines = [f'[[peer]]\nname = "{args.name}"\npublic_key = "{args.public_key}"']
    lines += [f'endpoint = "{args.endpoint}"'] if args.endpoint else []
    lines += [f'transport = "{args.transport}"'] if args.transport else []
    lines += [f"keepalive = {args.keepalive:g}"] if args.keepalive is not None else []
    d.mkdir(mode=0o755, parents=True, exist_ok=True)
    f.write_text("\n".join(lines) + "\n")
    try:
        cfg = C.load(args.config)  # the whole configuration with it must still load
    except C.ConfigError:
        f.unlink()
        raise
    print(f"wrote {f}")
    return _reload_if_running(args, cfg)


def remove(args: argparse.Namespace) -> int:
    cfg = C.load(args.config)
    f = _peers_dir(cfg) / f"{args.name}.toml"
    if not f.exists():
        raise UsageError(f"peer remove: no {f} (only peers added with `tapliance peer add` can be removed so)")
    text = f.read_text()
    f.unlink()
    try:
        cfg = C.load(args.config)
    except C.ConfigError:
        f.write_text(text)
        raise
    print(f"removed {f}")
    return _reload_if_running(args, cfg)


def _reload_if_running(args: argparse.Namespace, cfg: C.Config) -> int:
    if not cfg.control_socket.exists():
        print("no daemon is running for this config: the change applies at its next start")
        return 0
    return reload(args, cfg)


def dispatch(args: argparse.Namespace) -> int:
    if args.cmd == "reload":
        return reload(args)
    if args.action == "add":
        if not args.public_key:
            raise UsageError("peer add: NAME PUBLIC_KEY")
        return add(args)
    return remove(args)
