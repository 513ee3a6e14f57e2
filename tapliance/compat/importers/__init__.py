"""``tapliance import PROGRAM ARGS...``: a predecessor's own command line (or configuration) in, the tapliance
config that runs the same tunnel against the unchanged far end out.

Each importer (one module per program) reads exactly its program's arguments, with the same names,
defaults and positional order, and fills a :class:`~tapliance.compat.importers.draft.Draft`: one
``[[peer]]`` of the program's suite, the TAP, and a comment for every value's origin and for each of
the original's settings that tapliance does differently. The draft is rendered as TOML and loaded
once as ``tapliance up`` would load it. Nothing is written until everything has been read and
checked; then :func:`save` creates the files the import makes (a key given inline, ``-o``), each new,
or none of them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tapliance.compat.importers.cmdline import HelpRequested, InputError, Where
from tapliance.compat.importers.draft import NewFile, finish

# program -> one line for `tapliance import --help`
PROGRAMS: dict[str, str] = {
    "tinytaptunnel": "tinytaptunnel <key file> <local address> [peer address]",
    "quicktun": "QuickTun: -c NAME VALUE ..., --env, or --ifupdown FILE --iface NAME",
    "tappet": "tappet <ifname> <nonce-file> <our.key> <their.pub> <ip> <port> [-l]",
    "otptunnel": "otptunnel.py [-S] -K pad -A remote_ip [-P 12000] [--local-addr ...] [--tap-addr ...] ...",
}

__all__ = ["PROGRAMS", "HelpRequested", "Imported", "InputError", "run", "save"]


@dataclass(frozen=True)
class Imported:
    program: str
    text: str  # the TOML
    writes: tuple[NewFile, ...]  # files to create besides the config


def run(program: str, argv: list[str], cwd: Path, environ: Mapping[str, str]) -> Imported:
    """Import ``program``'s arguments ``argv``. Raises InputError (``import PROGRAM: WHAT: problem``) or
    HelpRequested (its ``--help`` text); writes nothing."""
    if program not in PROGRAMS:
        raise InputError(f"import: unknown program {program!r} (one of {', '.join(PROGRAMS)})")
    module = importlib.import_module(f"tapliance.compat.importers.{program}")
    try:
        draft = module.draft(argv, Where(cwd, environ))
        text = finish(draft)
    except InputError as e:
        raise InputError(f"import {program}: {e}") from None
    return Imported(program, text, tuple(draft.writes))


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _create(f: NewFile) -> None:
    fd = os.open(f.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, f.mode)
    try:
        os.write(fd, f.content)
        os.fsync(fd)
    finally:
        os.close(fd)


def save(imported: Imported, output: Path | None) -> None:
    """Create the import's files and, with ``output``, the config (mode 0644): every one new (an existing
    file is never overwritten), and all or none of them."""
    files = list(imported.writes)
    if output is not None:
        files.append(NewFile(output, imported.text.encode("utf-8"), 0o644, "-o"))
    seen: set[Path] = set()
    for f in files:
        if _exists(f.path):
            raise InputError(f"import {imported.program}: {f.option}: {f.path}: already exists; refusing to overwrite")
        if f.path.resolve() in seen:
            raise InputError(
                f"import {imported.program}: {f.option}: {f.path}: is also another file this import writes"
            )
        seen.add(f.path.resolve())
    made: list[Path] = []
    for f in files:
        try:
            _create(f)
        except OSError as e:
            for p in made:
                p.unlink(missing_ok=True)
            raise InputError(f"import {imported.program}: {f.option}: {f.path}: cannot create: {e.strerror}") from None
        made.append(f.path)
