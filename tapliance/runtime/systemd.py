"""systemd's service notification protocol (sd_notify), spoken directly: READY=1, STATUS=, WATCHDOG=1.

Under ``Type=notify`` systemd sets ``NOTIFY_SOCKET`` (a datagram socket path; ``@`` starts an abstract
name); with ``WatchdogSec=`` it also sets ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``), and expects
``WATCHDOG=1`` more often than that, or it restarts the service. Without these variables every call is a
no-op, so the daemon behaves the same with or without systemd.
"""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send ``message`` (e.g. ``"READY=1\\nSTATUS=up"``); True if there was a socket to send it to."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    addr = "\0" + path[1:] if path.startswith("@") else path
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.sendto(message.encode(), addr)
        return True
    except OSError:
        return False
    finally:
        s.close()


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half the watchdog timeout), or None when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or int(usec) == 0 or (pid and pid.isdigit() and int(pid) != os.getpid()):
        return None
    return int(usec) / 1e6 / 2
