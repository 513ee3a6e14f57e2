"""The ``tapliance`` command: parse, dispatch, print. No logic lives here.

Exit codes: 0 success, 1 runtime failure (daemon died, peer unreachable, ...), 2 bad input (usage,
config, key file). Errors are printed as one line ``tapliance: ...`` on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from pathlib import Path
from typing import NoReturn

from tapliance import __version__, keyfile
from tapliance.config import ConfigError

DEFAULT_CONFIG = "/etc/tapliance/tapliance.toml"

EPILOG = """\
examples:
  tapliance genkey > /etc/tapliance/host.key     # file is made 0600
  tapliance pubkey < /etc/tapliance/host.key     # give this to the peer
  tapliance check-config -c /etc/tapliance/tapliance.toml
  tapliance up -c /etc/tapliance/tapliance.toml  # foreground; SIGTERM/SIGINT tear down
  tapliance status                               # or --json
  tapliance net show -c /etc/tapliance/tapliance.toml
  tapliance pad generate --size 1G -o /etc/tapliance/otp.pad   # a one-time pad: see `tapliance pad -h`

exit codes: 0 ok, 1 runtime failure, 2 bad input (usage, config, key file)
"""


PAD_HELP = """\
Write a new one-time pad for the otp suite: SIZE bytes from the OS random source (os.urandom) into a
new file of mode 0600 (an existing file is never overwritten).

A pad is only as good as the randomness it came from. From os.urandom it is as strong as the kernel's
random generator, which is a cipher: not the information-theoretic secrecy a one-time pad promises.
For that, fill the file from a physical random source instead (and chmod 600 it).

Copy the pad to the other end out of band (e.g. on removable media, wiped afterwards), never over the
network it is to protect, and never use it for anything else: not for a second tunnel, not twice.
Each end sends from its own half (the end with server = true from the second), so a pad of SIZE
bytes carries about SIZE/2 bytes each way (each frame uses its length plus 16 bytes).
"""


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"tapliance: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="tapliance",
        description="Encrypted Layer-2 tunnel appliance: carries Ethernet frames "
        "between TAP devices over authenticated, encrypted UDP.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"tapliance {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    g = sub.add_parser("genkey", help="print a new private key (base64); a file it is redirected to is made 0600")
    g.add_argument("-o", "--output", type=Path, help="write to this new file (mode 0600) instead of stdout")
    sub.add_parser("pubkey", help="read a private key on stdin, print its public key")

    cfg_help = f"config file (default {DEFAULT_CONFIG})"
    u = sub.add_parser("up", help="run the tunnel daemon in the foreground")
    u.add_argument("-c", "--config", default=DEFAULT_CONFIG, help=cfg_help)
    u.add_argument("--no-net", action="store_true", help="do not apply the [bridge]/[nat]/[[route]] sections")

    c = sub.add_parser("check-config", help="validate a config file and its key files, print a summary")
    c.add_argument("-c", "--config", default=DEFAULT_CONFIG, help=cfg_help)

    s = sub.add_parser("status", help="show a running daemon's peers, endpoints, handshakes and counters")
    s.add_argument(
        "-c", "--config", help=f"find the control socket from this config (default {DEFAULT_CONFIG} if it exists)"
    )
    s.add_argument("-s", "--socket", type=Path, help="control socket path (default /run/tapliance/tap0.sock)")
    s.add_argument("--json", action="store_true", help="print the raw JSON snapshot")

    pd = sub.add_parser(
        "pad",
        help="make a one-time pad for the otp suite (`pad generate --size 1G -o FILE`)",
        description=PAD_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pd.add_argument("action", choices=("generate",), metavar="generate", help="write a new pad")
    pd.add_argument("--size", required=True, help="bytes, or with K, M, G, T (powers of 1024): 64M, 1G, 123456")
    pd.add_argument("-o", "--output", type=Path, required=True, help="the new pad file (mode 0600)")

    n = sub.add_parser("net", help="apply, show or tear down the bridge/NAT/route host setup")
    n.add_argument("action", choices=("apply", "show", "teardown"))
    n.add_argument("-c", "--config", default=DEFAULT_CONFIG, help=cfg_help)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(_dispatch(args) or 0)
    except (ConfigError, keyfile.KeyFileError, UsageError) as e:
        print(f"tapliance: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int | None:
    if args.cmd == "genkey":
        return _genkey(args.output)
    if args.cmd == "pubkey":
        return _pubkey()
    if args.cmd == "check-config":
        from tapliance import daemon

        print(daemon.check(args.config))
        return 0
    if args.cmd == "up":
        from tapliance import daemon

        return daemon.run(args.config, apply_net=not args.no_net)
    if args.cmd == "status":
        return _status(args)
    if args.cmd == "net":
        return _net(args)
    if args.cmd == "pad":
        return _pad(args)
    raise UsageError(f"unknown command {args.cmd}")


def _genkey(output: Path | None) -> int:
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


def _pad(args: argparse.Namespace) -> int:
    from tapliance import padfile

    def progress(line: str) -> None:
        print(f"tapliance: {line}", file=sys.stderr)

    try:
        padfile.generate(args.output, padfile.parse_size(args.size), progress=progress)
    except padfile.PadFileError as e:
        raise UsageError(str(e)) from None
    return 0


def _pubkey() -> int:
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


def _status(args: argparse.Namespace) -> int:
    from tapliance.control import client

    sock = args.socket
    cfg_path = args.config or (DEFAULT_CONFIG if Path(DEFAULT_CONFIG).exists() and sock is None else None)
    if sock is None and cfg_path:
        from tapliance import config

        sock = config.load(cfg_path).control_socket
    if sock is None:
        sock = Path("/run/tapliance/tap0.sock")
    try:
        snap = client.fetch(sock)
    except client.ControlError as e:
        print(f"tapliance: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(snap, indent=2, sort_keys=True))
    else:
        print(client.render(snap))
    return 0


def _net(args: argparse.Namespace) -> int:
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
        print(f"tapliance: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
