"""What the predecessors' command lines have in common: a parser whose mistakes are one line and whose
``--help`` is text (never a print or an exit from here), and the values they carry, read the strict way.

The originals are lenient (``atoi`` ports, names resolved at start, trailing junk ignored); an importer is
strict instead, because a value it cannot read exactly would become a config that silently differs.
Every error names the argument or variable as the user wrote it.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from tapliance.config.fields import Endpoint

_BRACKETED = re.compile(r"^\[([^\]]*)\]:([^:]*)$")
_PLAIN = re.compile(r"^([^:\[\]]*):([^:]*)$")


class InputError(ValueError):
    """A mistake in the imported command line or configuration, phrased ``WHAT: problem`` (one line)."""


class HelpRequested(Exception):
    """``--help`` was given: the text to print."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True)
class Where:
    """Where the import runs: relative paths are resolved against ``cwd``; ``environ`` is what --env reads."""

    cwd: Path
    environ: Mapping[str, str]

    def path(self, text: str, what: str) -> Path:
        """``text`` as an absolute path (a TOML's relative paths would be relative to the config file)."""
        if not text:
            raise InputError(f"{what}: empty path")
        return Path(os.path.normpath(self.cwd / text))


class _Help(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show this help: the input it reads, and an example")

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        raise HelpRequested(parser.format_help())


class Parser(argparse.ArgumentParser):
    """argparse for one predecessor's arguments: errors raise InputError, ``-h``/``--help`` HelpRequested."""

    def __init__(self, program: str, description: str, example: str) -> None:
        super().__init__(
            prog=f"tapliance import {program}",
            description=description,
            epilog=example,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            add_help=False,
            allow_abbrev=program == "otptunnel",  # argparse's own prefix matching, as OTPTunnel has it
        )
        self.add_argument("-h", "--help", action=_Help)

    def error(self, message: str) -> NoReturn:
        if "unrecognized arguments: -o" in message or "unrecognized arguments: --output" in message:
            message += " (tapliance's -o goes before the program: tapliance import -o FILE PROGRAM ...)"
        raise InputError(message)


def port(text: str, what: str, lo: int = 1, hi: int = 65535) -> int:
    """A decimal port number in ``lo..hi``."""
    if not text.isascii() or not text.isdigit():
        raise InputError(f"{what}: not a port number: {text!r}")
    value = int(text)
    if not lo <= value <= hi:
        raise InputError(f"{what}: port must be {lo}-{hi}, got {value}")
    return value


def ip(text: str, what: str) -> str:
    """A literal IPv4 or IPv6 address, in its canonical form."""
    if "%" in text:
        raise InputError(f"{what}: {text!r}: scoped IPv6 addresses (with %) are not supported")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise InputError(
            f"{what}: {text!r} is not an IP address (tapliance does not resolve names: give the address)"
        ) from None


def host_port(text: str, what: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` (Go's ResolveUDPAddr syntax); HOST may be empty ("" is returned)."""
    m = _BRACKETED.match(text) or _PLAIN.match(text)
    if not m:
        raise InputError(f"{what}: expected HOST:PORT, :PORT or [IPv6]:PORT, got {text!r}")
    host = m.group(1)
    return (ip(host, what) if host else ""), port(m.group(2), what)


def endpoint(host: str, number: int) -> str:
    """The config's form of an address: ``1.2.3.4:5`` or ``[::1]:5``."""
    return str(Endpoint(host, number))


def is_v6(host: str) -> bool:
    return ":" in host


def integer(text: str, what: str) -> int:
    """A decimal integer (optionally signed), where the original used atoi/atol: strict, not lenient."""
    t = text.strip()
    if not re.fullmatch(r"[+-]?[0-9]+", t):
        raise InputError(f"{what}: not an integer: {text!r}")
    return int(t)
