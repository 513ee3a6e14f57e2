"""The imported config as it is built: tables of keys, each with the reason it has that value, rendered as
commented TOML and then checked by loading it the way ``tapliance up`` will.

The comments are the point of the output: every value says which argument or variable it came from, and
every setting the original had that tapliance does not take over says so instead of vanishing.
"""

from __future__ import annotations

import textwrap
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tapliance import config
from tapliance.compat.importers.cmdline import InputError

WIDTH = 110
Value = str | bool | int | float | Path | list[str]


@dataclass(frozen=True)
class NewFile:
    """A file the import creates besides the config (a key given inline); ``option`` named it."""

    path: Path
    content: bytes
    mode: int
    option: str


@dataclass
class Table:
    header: str  # "[interface]", "[[peer]]"
    rows: list[tuple[str, Value, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def set(self, key: str, value: Value, why: str = "") -> None:
        self.rows.append((key, value, why))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def get(self, key: str) -> Value | None:
        return next((v for k, v, _ in self.rows if k == key), None)


@dataclass
class Draft:
    """``origin``: comment lines naming the input; ``original_mtu``: what the original did with the MTU."""

    program: str
    origin: list[str]
    original_mtu: str
    interface: Table = field(default_factory=lambda: Table("[interface]"))
    peer: Table = field(default_factory=lambda: Table("[[peer]]"))
    writes: list[NewFile] = field(default_factory=list)


def toml_value(v: Value) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return _string(str(v))


def _string(s: str) -> str:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{s!r}: not representable in a TOML file (not UTF-8)") from None
    out = []
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def comment_text(s: str) -> str:
    """``s`` safe inside a comment: control characters (a newline would end it) shown escaped."""
    return "".join(c if 0x20 <= ord(c) != 0x7F else f"\\x{ord(c):02x}" for c in s)


def comment(text: str, indent: str = "") -> list[str]:
    lines = textwrap.wrap(comment_text(text), WIDTH - 2 - len(indent), break_on_hyphens=False)
    return [f"{indent}# {lines[0]}", *(f"{indent}#   {line}" for line in lines[1:])] if lines else []


def _table(t: Table) -> list[str]:
    out = [t.header]
    for key, value, why in t.rows:
        line = f"{key} = {toml_value(value)}"
        if why and len(line) + 4 + len(comment_text(why)) <= WIDTH:
            out.append(f"{line}  # {comment_text(why)}")
        else:
            out += [*(comment(why) if why else []), line]
    for n in t.notes:
        out += comment(n)
    return out


def render(d: Draft, trailer: list[str]) -> str:
    out = [f"# {comment_text(line)}" for line in d.origin]
    out += comment(
        f"The far end keeps running {d.program} unchanged. Check this file with `tapliance check-config -c FILE`; "
        "docs/migration.md describes what changes and the way on to the native suite."
    )
    out += ["", *_table(d.interface), "", *_table(d.peer)]
    if trailer:
        out += ["", *(line for n in trailer for line in comment(n))]
    return "\n".join(out) + "\n"


def _load(text: str) -> config.Config:
    try:
        return config.parse(tomllib.loads(text), Path("<imported>"))
    except (config.ConfigError, tomllib.TOMLDecodeError) as e:
        raise InputError(f"the config it would print does not load: {e}") from None


def finish(d: Draft) -> str:
    """The TOML text, loaded once to check it (a value that passed the importer but not the config
    reader is an error here, not in the user's ``tapliance up``) and to say which MTU the TAP gets."""
    cfg = _load(render(d, []))
    suite = cfg.peers[0].suite
    if d.interface.get("mtu") is None:
        d.interface.note(
            f"mtu: not set, so tapliance gives the TAP {cfg.tap_mtu}: what {suite} carries over a 1500-byte "
            f"underlay without fragmenting. {d.original_mtu}"
        )
    trailer = [
        "When the far end runs tapliance too: give both ends a `tapliance genkey` key ([tunnel] private_key_file), "
        f'then switch this peer from {suite} to suite = "native" with the far end\'s `tapliance pubkey` as its '
        "public_key, at both ends together, one peer at a time (docs/migration.md)."
    ]
    text = render(d, trailer)
    _load(text)
    return text
