"""The command line: every command, option and help text of `tapliance` (man pages come from here too)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from tapliance import __version__

DEFAULT_CONFIG = "/etc/tapliance/tapliance.toml"

EPILOG = """\
examples:
  tapliance genkey > /etc/tapliance/host.key     # file is made 0600
  tapliance pubkey < /etc/tapliance/host.key     # give this to the peer
  tapliance check-config -c /etc/tapliance/tapliance.toml
  tapliance up -c /etc/tapliance/tapliance.toml  # foreground; SIGTERM/SIGINT tear down
  tapliance status                               # or --json
  tapliance net show -c /etc/tapliance/tapliance.toml
  tapliance import tappet tappet0 ~/nonce ~/X.key ~/Y.pub 192.0.2.34 11011 > tapliance.toml
  tapliance pad generate --size 1G -o /etc/tapliance/otp.pad   # a one-time pad: see `tapliance pad -h`
  tapliance peer add site-c PUBKEY --endpoint 192.0.2.7:9123   # writes peers.d/site-c.toml, reloads
  tapliance reload                               # apply [[peer]] changes (or: kill -HUP the daemon)

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
    u.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="text (key=value fields) or one JSON object per line; default: [log] format",
    )

    c = sub.add_parser("check-config", help="validate a config file and its key files, print a summary")
    c.add_argument("-c", "--config", default=DEFAULT_CONFIG, help=cfg_help)

    s = sub.add_parser("status", help="show a running daemon's peers, endpoints, handshakes and counters")
    s.add_argument(
        "-c", "--config", help=f"find the control socket from this config (default {DEFAULT_CONFIG} if it exists)"
    )
    s.add_argument("-s", "--socket", type=Path, help="control socket path (default /run/tapliance/tap0.sock)")
    s.add_argument("--json", action="store_true", help="print the raw JSON snapshot")
    s.add_argument("--peer", metavar="NAME", help="only this peer, with every detail")
    s.add_argument(
        "--watch", action="store_true", help="a live table with rates, redrawn every --interval (Ctrl-C ends)"
    )
    s.add_argument("--interval", type=float, default=1.0, help="seconds between redraws with --watch (1)")

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
    _import_parser(sub)
    _peer_parsers(sub, cfg_help, DEFAULT_CONFIG)
    return p


IMPORT_EPILOG = """\
programs (each has its own --help: tapliance import PROGRAM --help):
{programs}

The far end keeps running the old program. docs/migration.md describes what changes and the way on.
"""


def _import_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from tapliance.compat.importers import PROGRAMS

    i = sub.add_parser(
        "import",
        help="print the config that runs a predecessor's tunnel, from that program's own command line",
        description="Reads a predecessor's own command line (or QuickTun's settings) and prints a tapliance "
        "config that runs the same tunnel against the unchanged far end.",
        epilog=IMPORT_EPILOG.format(programs="\n".join(f"  {n:14} {u}" for n, u in PROGRAMS.items())),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    i.add_argument("-o", "--output", type=Path, help="write the config to this new file instead of stdout")
    i.add_argument("program", choices=tuple(PROGRAMS), metavar="PROGRAM", help=", ".join(PROGRAMS))
    i.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="the program's own arguments, unchanged")


def _peer_parsers(sub: argparse._SubParsersAction, cfg_help: str, default: str) -> None:  # type: ignore[type-arg]
    r = sub.add_parser("reload", help="apply added, removed and changed [[peer]]s to the running daemon (as SIGHUP)")
    r.add_argument("-c", "--config", default=default, help=cfg_help)
    r.add_argument("-s", "--socket", type=Path, help="control socket path (default: from the config)")
    p = sub.add_parser("peer", help="add or remove a peer file in peers.d and reload")
    p.add_argument("action", choices=("add", "remove"))
    p.add_argument("name", help="the peer's name (its file: peers.d/NAME.toml)")
    p.add_argument("public_key", nargs="?", help="add: the peer's `tapliance pubkey`")
    p.add_argument("--endpoint", help="add: HOST:PORT of the peer, if it does not dial us")
    p.add_argument("--transport", choices=("udp", "tcp", "auto"), help="add: udp (default), tcp or auto")
    p.add_argument("--keepalive", type=float, help="add: seconds (default: the tunnel's)")
    p.add_argument("-c", "--config", default=default, help=cfg_help)
