"""One interface's stanzas of an ifupdown ``/etc/network/interfaces`` file (interfaces(5)), as Debian's
QuickTun hooks see them.

ifupdown hands a stanza's options to its hooks as ``IF_<OPTION>`` (upper case, ``-`` as ``_``), so
``qt_remote_address`` and ``qt-remote-address`` both reach QuickTun's Debian binary as
``IF_QT_REMOTE_ADDRESS``. Lines starting with ``#`` are comments (there are no end-of-line comments), a
trailing backslash continues a line, and a stanza's options run until the next stanza keyword. An
interface may have several ``iface`` stanzas (``inet`` and ``inet6``); their options are read together.
``source`` and ``source-directory`` are not followed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tapliance.compat.importers.cmdline import InputError, integer

STANZA_WORDS = ("iface", "mapping", "auto", "source", "source-directory", "rename", "no-auto-down", "no-scripts")


@dataclass
class Stanza:
    name: str
    qt: list[tuple[str, str, str]] = field(default_factory=list)  # (option as written, QuickTun NAME, value)
    other: list[tuple[str, str]] = field(default_factory=list)  # every other option, as written
    addresses: list[str] = field(default_factory=list)  # from `inet`/`inet6 static` stanzas
    mtu: int | None = None
    headers: list[str] = field(default_factory=list)  # the `iface NAME FAMILY METHOD` lines


def _logical_lines(text: str) -> Iterator[str]:
    held = ""
    for raw in text.splitlines():
        if not held and raw.lstrip().startswith("#"):
            continue
        if raw.endswith("\\"):
            held += raw[:-1] + " "
            continue
        line, held = (held + raw).strip(), ""
        if line:
            yield line
    if held.strip():
        yield held.strip()


def _blocks(text: str, iface: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """(the iface line, its options) of each stanza of ``iface``."""
    blocks: list[tuple[str, list[tuple[str, str]]]] = []
    current: list[tuple[str, str]] | None = None
    for line in _logical_lines(text):
        word = line.split()[0]
        if word == "iface":
            words = line.split()
            current = [] if len(words) > 1 and words[1] == iface else None
            if current is not None:
                blocks.append((line, current))
        elif word in STANZA_WORDS or word.startswith("allow-"):
            current = None
        elif current is not None:
            current.append((word, line[len(word) :].strip()))
    return blocks


def _prefix(family: str, netmask: str | None, what: str) -> str:
    if netmask is None:
        raise InputError(f"{what}: has no netmask (give it, or the address as ADDRESS/PREFIX)")
    if family == "inet" and "." in netmask:
        try:
            return str(ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen)
        except ValueError:
            raise InputError(f"{what}: netmask {netmask!r} is not a netmask") from None
    return str(integer(netmask, f"{what} netmask"))


def _address(family: str, options: dict[str, str], where: str) -> str:
    addr = options["address"]
    text = addr if "/" in addr else f"{addr}/{_prefix(family, options.get('netmask'), f'{where}: address')}"
    try:
        value = ipaddress.ip_interface(text)
    except ValueError:
        raise InputError(f"{where}: address {text!r} is not an IP address with a prefix") from None
    if value.version != (6 if family == "inet6" else 4):
        raise InputError(f"{where}: address {addr} is not of family {family}")
    return str(value)


def read(path: Path, iface: str) -> Stanza:
    """The options of ``iface``'s stanzas in the interfaces(5) file ``path`` (InputError names the problem)."""
    try:
        text = path.read_text("utf-8")
    except OSError as e:
        raise InputError(f"--ifupdown: {path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"--ifupdown: {path}: not UTF-8 text") from None
    blocks = _blocks(text, iface)
    if not blocks:
        raise InputError(f"--iface: no 'iface {iface}' stanza in {path} (source lines are not followed)")
    st = Stanza(iface)
    for line, options in blocks:
        st.headers.append(line)
        words = line.split()
        family, method = [*words, "", ""][2:4]
        plain = {k: v for k, v in options if not k.lower().replace("-", "_").startswith("qt_")}
        for option, value in options:
            name = option.upper().replace("-", "_")
            if name.startswith("QT_"):
                st.qt.append((option, name[3:], value))
            elif option == "mtu":
                st.mtu = integer(value, f"iface {iface}: mtu")
            elif option not in ("address", "netmask") or method != "static":
                st.other.append((option, value))
        if method == "static" and "address" in plain:
            st.addresses.append(_address(family, plain, f"iface {iface} {family}"))
    return st
