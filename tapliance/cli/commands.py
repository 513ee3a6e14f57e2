"""What each command does once parsed: thin wrappers that call into the package and print."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from pathlib import Path

from tapliance import keyfile
from tapliance.cli.parser import DEFAULT_CONFIG


class UsageError(Exception):
    pass


def genkey(output: Path | None) -> int:
    key = keyfile.generate_private()
    if output is not None:
        try:
            keyfile.write_new(output, key)
        except FileExistsError:
            raise UsageError(f"{output}: already exists; refusing to overwrite a key") from None
        except OSError as e:
            raise UsageError(f"{output}: cannot create: {e.strerror}") from None
        return 0
    fd = sys.stdout.fileno()
    if stat.S_ISREG(os.fstat(fd).st_mode):
        os.fchmod(fd, 0o600)  # `genkey > file`: the shell created it with the umask; tighten it
    print(keyfile.encode(key))
    return 0


def pad(args: argparse.Namespace) -> int:
    from tapliance import padfile

    def progress(line: str) -> None:
        print(f"tapliance: {line}", file=sys.stderr)

    try:
        padfile.generate(args.output, padfile.parse_size(args.size), progress=progress)
    except padfile.PadFileError as e:
        raise UsageError(str(e)) from None
    return 0


def pubkey() -> int:
    _check_stdin_mode()  # before reading: `pubkey < host.key` gets the same check as `up`/`check-config`
    text = sys.stdin.read()
    priv = keyfile.decode(text, "private key on stdin")
    print(keyfile.encode(keyfile.public_from_private(priv)))
    return 0


def _check_stdin_mode() -> None:
    """Refuse a private key file on stdin that group or others can read (a pipe or tty is fine)."""
    try:
        fd = sys.stdin.fileno()
        st = os.fstat(fd)
    except (AttributeError, OSError, ValueError):
        return  # no file descriptor behind stdin (e.g. replaced in-process): nothing to check
    if not stat.S_ISREG(st.st_mode):
        return
    try:
        name = os.readlink(f"/proc/self/fd/{fd}")  # name the file to chmod
    except OSError:
        name = "<stdin>"
    keyfile.check_mode(st.st_mode, name, "private key")


def import_(args: argparse.Namespace) -> int:
    from tapliance.compat import importers

    try:
        imported = importers.run(args.program, args.args, Path.cwd(), os.environ)
        importers.save(imported, args.output)
    except importers.HelpRequested as h:
        print(h.text, end="")
        return 0
    except importers.InputError as e:
        raise UsageError(str(e)) from None
    if args.output is None:
        print(imported.text, end="")
    return 0


def status(args: argparse.Namespace) -> int:
    from tapliance.control import client

    sock = args.socket
    cfg_path = args.config or (DEFAULT_CONFIG if Path(DEFAULT_CONFIG).exists() and sock is None else None)
    if sock is None and cfg_path:
        from tapliance import config

        sock = config.load(cfg_path).control_socket
    if sock is None:
        sock = Path("/run/tapliance/tap0.sock")
    if not 0.1 <= args.interval <= 3600:
        raise UsageError("status --interval: between 0.1 and 3600 seconds")
    try:
        if args.watch:
            from tapliance.control import watch

            return watch.run(sock, args.interval, args.peer)
        snap = client.fetch(sock)
        if args.peer is not None:
            snap = client.only_peer(snap, args.peer)
    except client.ControlError as e:
        print(f"tapliance: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(snap, indent=2, sort_keys=True))
    else:
        print(client.render(snap, detail=args.peer is not None))
    return 0


def net(args: argparse.Namespace) -> int:
    from tapliance import config, net

    cfg = config.load(args.config)
    try:
        if args.action == "apply":
            for line in net.apply(cfg):
                print(line)
        elif args.action == "teardown":
            for line in net.teardown(cfg):
                print(line)
        else:
            print(net.show(cfg))
    except net.NetError as e:
        where = f"{cfg.path}: " if e.exit_code == net.BAD_INPUT else ""  # bad input: name the config
        print(f"tapliance: {where}{e}", file=sys.stderr)
        return e.exit_code
    return 0
