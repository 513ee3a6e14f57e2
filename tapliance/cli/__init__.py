"""The ``tapliance`` command: parse (parser.py), dispatch (here), run and print (commands.py). No logic
lives here: every command calls into the package.

Exit codes: 0 success, 1 runtime failure (daemon died, peer unreachable, ...), 2 bad input (usage,
config, key file). Errors are printed as one line ``tapliance: ...`` on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from tapliance import keyfile
from tapliance.cli import commands
from tapliance.cli.commands import UsageError
from tapliance.cli.parser import DEFAULT_CONFIG, build_parser
from tapliance.config import ConfigError

__all__ = ["DEFAULT_CONFIG", "UsageError", "build_parser", "main"]


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
        return commands.genkey(args.output)
    if args.cmd == "pubkey":
        return commands.pubkey()
    if args.cmd == "check-config":
        from tapliance import daemon

        print(daemon.check(args.config))
        return 0
    if args.cmd == "up":
        from tapliance import daemon

        return daemon.run(args.config, apply_net=not args.no_net, log_format=args.log_format)
    if args.cmd == "status":
        return commands.status(args)
    if args.cmd == "net":
        return commands.net(args)
    if args.cmd == "import":
        return commands.import_(args)
    if args.cmd == "pad":
        return commands.pad(args)
    if args.cmd in ("reload", "peer"):
        from tapliance.cli import peers

        return peers.dispatch(args)
    raise UsageError(f"unknown command {args.cmd}")
