"""The predecessors' key material, read from disk as each program keeps it (the parsing is in suites/).

Every secret file is refused when group or others can read it, as tapliance's own key files are (the
originals do not check; the error says how to fix the mode). What tinytaptunnel and tappet write
(a missing tinytaptunnel key file is created, tappet's nonce file is incremented) is written the way
they do it, except that a created key file gets mode 0600 and writes are atomic and fsynced.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from tapliance import keyfile
from tapliance.atomic import write_atomic
from tapliance.suites import quicktun, tappet, tinytaptunnel

KeyFileError = keyfile.KeyFileError


def _read(path: Path, what: str, *, secret: bool, limit: int = 4096) -> bytes:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise KeyFileError(f"{path}: {what} file does not exist") from None
    except OSError as e:
        raise KeyFileError(f"{path}: cannot access {what} file: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"{path}: {what} file is not a regular file")
    if secret:
        keyfile.check_mode(st.st_mode, path, what)
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError as e:
        raise KeyFileError(f"{path}: cannot read {what} file: {e.strerror}") from None


def _parsed(path: Path, parse: Callable[[bytes], bytes], content: bytes) -> bytes:
    try:
        return parse(content)
    except ValueError as e:
        raise KeyFileError(f"{path}: {e}") from None


def tinytaptunnel_key(path: Path, random: Callable[[int], bytes]) -> bytes:
    """tinytaptunnel's HMAC key; a missing file is created with 32 random bytes, as the original does."""
    if not path.exists() and not path.is_symlink():
        key = random(32)
        try:
            write_atomic(path, tinytaptunnel.key_file_content(key), 0o600)
        except OSError as e:
            raise KeyFileError(f"{path}: cannot create tinytaptunnel key file: {e.strerror}") from None
        return key
    return _parsed(path, tinytaptunnel.parse_key_file, _read(path, "tinytaptunnel key", secret=True))


def quicktun_private(path: Path) -> bytes:
    """A QuickTun PRIVATE_KEY_FILE (32 raw bytes or 64 hex digits) or a tapliance key file (base64)."""
    content = _read(path, "private key", secret=True, limit=128)
    if len(content.strip()) == 44:
        return keyfile.decode(content.decode("ascii", "replace"), f"{path}: private key")
    return _parsed(path, quicktun.parse_key_file, content)


def tappet_key(path: Path, *, secret: bool) -> bytes:
    """A tappet NAME.key (secret) or NAME.pub: 64 hex characters and a newline."""
    return _parsed(path, tappet.parse_key_file, _read(path, "tappet key", secret=secret, limit=128))


def tappet_nonce_prefix(path: Path, *, write: bool = True) -> int:
    """This run's nonce prefix: the file's value plus one, written back before it is used (as tappet
    does; ``write=False`` only checks); refuses the wrap-around to 0."""
    content = _read(path, "tappet nonce", secret=False, limit=16)
    try:
        prefix, new = tappet.next_nonce_prefix(content)
    except ValueError as e:
        raise KeyFileError(f"{path}: {e}") from None
    if not write:
        return prefix
    try:
        write_atomic(path, new, stat.S_IMODE(os.stat(path).st_mode))
    except OSError as e:
        raise KeyFileError(f"{path}: cannot write back the tappet nonce: {e.strerror}") from None
    return prefix
