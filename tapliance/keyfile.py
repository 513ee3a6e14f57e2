"""X25519 key files: base64 text, one key per file, mode 0600.

A private key file readable by group or others is refused (as ssh does), because anyone who can read
it can impersonate this host. Pre-shared key files follow the same rules.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from nacl.bindings import crypto_scalarmult_base
from nacl.utils import random as nacl_random


class KeyFileError(ValueError):
    """A one-line, user-facing key file problem."""


def generate_private() -> bytes:
    """A fresh X25519 private key (clamped by the curve functions when used)."""
    return bytes(nacl_random(32))


def public_from_private(private: bytes) -> bytes:
    return bytes(crypto_scalarmult_base(private))


def encode(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def decode(text: str, what: str = "key") -> bytes:
    """Decode one base64 32-byte key; raises KeyFileError with a one-line reason."""
    s = text.strip()
    if not s:
        raise KeyFileError(f"{what} is empty")
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"{what} is not base64 text (expected the output of `tapliance genkey`)") from None
    if len(raw) != 32:
        raise KeyFileError(f"{what} decodes to {len(raw)} bytes, expected 32")
    return raw


def check_mode(mode: int, path: object, what: str = "private key") -> None:
    """Refuse a secret key file (``mode`` from its stat) that group or others can access."""
    if mode & 0o077:
        raise KeyFileError(
            f"{path}: {what} file has mode {stat.S_IMODE(mode):04o}, readable by others; run `chmod 600 {path}`"
        )


def check_secret_file(path: Path, what: str, hint: str = "") -> os.stat_result:
    """A secret file must exist, be a regular file, and be readable by its owner only; its stat."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise KeyFileError(f"{path}: {what} file does not exist{hint}") from None
    except OSError as e:
        raise KeyFileError(f"{path}: cannot access {what} file: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"{path}: {what} file is not a regular file")
    check_mode(st.st_mode, path, what)
    return st


def read(path: Path, what: str = "private key") -> bytes:
    """Read a secret key file, refusing files other users could read."""
    check_secret_file(path, what, " (create it with `tapliance genkey`)")
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise KeyFileError(f"{path}: cannot read {what} file: {getattr(e, 'strerror', None) or e}") from None
    try:
        return decode(text, what)
    except KeyFileError as e:
        raise KeyFileError(f"{path}: {e}") from None


def write_new(path: Path, key: bytes) -> None:
    """Create ``path`` with mode 0600 holding ``key``; refuse to overwrite an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(encode(key) + "\n")


def read_password(path: Path) -> bytes:
    """A password file's first line (UTF-8, without its line end), refusing files others could read."""
    check_secret_file(path, "password")
    try:
        line = path.read_bytes().split(b"\n", 1)[0].rstrip(b"\r")
        line.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise KeyFileError(f"{path}: cannot read password file: {getattr(e, 'strerror', None) or e}") from None
    if not line:
        raise KeyFileError(f"{path}: password file is empty (the password is its first line)")
    return line
