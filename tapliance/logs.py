"""Logging: one line per event, with key=value fields; journald's own fields under journald; or JSON.

A record may carry ``extra={"fields": {...}}``. The text form is ``message key=value ...`` (values with
spaces quoted); under journald (``JOURNAL_STREAM`` set and its socket present) each record goes to the
journal as a native entry with ``MESSAGE``, ``PRIORITY``, ``SYSLOG_IDENTIFIER`` and one
``TAPLIANCE_<KEY>`` field per key, so ``journalctl TAPLIANCE_PEER=site-b`` finds a peer's events; the JSON
form is one object per line with ``ts``, ``level``, ``msg`` and the fields.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from typing import Any

JOURNAL_SOCKET = "/run/systemd/journal/socket"
_PRIORITY = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    f = getattr(record, "fields", None)
    return f if isinstance(f, dict) else {}


def _kv(fields: dict[str, Any]) -> str:
    out = []
    for k, v in fields.items():
        s = "yes" if v is True else "no" if v is False else str(v)
        out.append(f"{k}={json.dumps(s) if (' ' in s or '=' in s or not s) else s}")
    return " ".join(out)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        kv = _kv(_fields(record))
        return f"{line} {kv}" if kv else line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


class JournalHandler(logging.Handler):
    """Native journal entries over its datagram socket (the systemd journal protocol, text form)."""

    def __init__(self, path: str = JOURNAL_SOCKET) -> None:
        super().__init__()
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
            if record.exc_info:
                msg += "\n" + logging.Formatter().formatException(record.exc_info)
            entry = {
                "MESSAGE": msg,
                "PRIORITY": _PRIORITY.get(record.levelname, 6),
                "SYSLOG_IDENTIFIER": "tapliance",
                "TAPLIANCE_LOGGER": record.name,
            }
            entry.update({f"TAPLIANCE_{k.upper()}": v for k, v in _fields(record).items()})
            self.sock.sendto(_journal_bytes(entry), self.path)
        except OSError:
            self.handleError(record)


def _journal_bytes(entry: dict[str, Any]) -> bytes:
    out = bytearray()
    for k, v in entry.items():
        b = str(v).encode()
        if b"\n" in b:  # multi-line values: the binary form (name, newline, le64 length, value, newline)
            out += k.encode() + b"\n" + len(b).to_bytes(8, "little") + b + b"\n"
        else:
            out += k.encode() + b"=" + b + b"\n"
    return bytes(out)


def setup(level: str, fmt: str = "text") -> None:
    """Route the ``tapliance`` loggers (and the root) to stderr or the journal, in ``fmt``."""
    journald = bool(os.environ.get("JOURNAL_STREAM")) and os.path.exists(JOURNAL_SOCKET)
    handler: logging.Handler
    if fmt == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    elif journald:
        handler = JournalHandler()
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(TextFormatter("%(asctime)s tapliance[%(process)d] %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("pyroute2").setLevel(logging.WARNING)  # its debug output is per netlink message
