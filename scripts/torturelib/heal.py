"""Figures 4 and 5: kill -9 and restart (with host setup, and the host diffed afterwards); roaming.

Traffic is watched by a ping every 50 ms with timestamps (``ping -D``): "resumed" is the first echo reply
after the event, so the figure is measured to about 50 ms. Both daemons run with host setup (b: NAT with an
nftables table and ip_forward; a: a route through the tunnel), which a kill -9 leaves behind and the
restarted daemon takes over from its journal.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

from .lab import ADDR, OVERLAY, ROAMED, ROUTER, Lab
from .report import Result
from .session import open_session
from .tunnel import OTHER
from .xfer import Receiver

REPLY = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from")
SYSCTLS = ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"]


def host_state(lab: Lab, sides: tuple[str, ...] = ("a", "b")) -> str:
    """Links, addresses, routes, the nft ruleset and the sysctls tapliance touches, per namespace."""
    cmds = [
        ["ip", "-d", "-br", "link"],
        ["ip", "-br", "addr"],
        ["ip", "route", "show", "table", "all"],
        ["nft", "list", "ruleset"],
        ["sysctl", *SYSCTLS],
    ]
    out = []
    for s in sides:
        for c in cmds:
            text = lab.sh(s, c, check=False).stdout.decode()
            if c[0] == "ip" and "-br" in c:
                text = _configuration(text)
            out.append(f"## {s}: {' '.join(c)}\n" + text)
    return "\n".join(out)


def _configuration(brief: str) -> str:
    """``ip -br`` output without the carrier state (UP/DOWN, NO-CARRIER, LOWER_UP), which a veth's far end
    changes on its own: what is compared is what tapliance configures."""
    lines = []
    for line in brief.splitlines():
        f = line.split()
        if len(f) >= 2:
            f[1] = "-"
        lines.append(" ".join(x for x in f if x not in ("NO-CARRIER,", "LOWER_UP")).replace(",LOWER_UP", "")
                     .replace("NO-CARRIER,", ""))  # fmt: skip
    return "\n".join(lines)


def diff(before: str, after: str) -> list[str]:
    b, a = before.splitlines(), after.splitlines()
    return [f"-{x}" for x in b if x not in a] + [f"+{x}" for x in a if x not in b]


class Watch:
    """A ping every 50 ms from ``src`` to the other side's overlay address, replies timestamped."""

    def __init__(self, lab: Lab, src: str) -> None:
        args = ["ip", "netns", "exec", lab.ns(src), "ping", "-n", "-D", "-i", "0.05", "-W", "1", OVERLAY[OTHER[src]]]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)

    def replies(self) -> list[float]:
        self.p.send_signal(signal.SIGINT)
        out, _ = self.p.communicate(timeout=10)
        return [float(m.group(1)) for line in out.splitlines() if (m := REPLY.match(line))]


def first_after(replies: list[float], t: float) -> float | None:
    later = [x for x in replies if x >= t]
    return later[0] - t if later else None


def kill9(lab: Lab, bar: float = 5.0) -> Result:
    r = Result("kill9", "kill -9 of each side, then a restart", f"traffic again <= {bar:g} s; host diff empty")
    before = host_state(lab)
    s = open_session(lab, "kill9", host_setup=True)
    t, resumed = s.tunnel, {}
    try:
        for victim in ("b", "a"):
            watch = Watch(lab, OTHER[victim])
            time.sleep(0.5)
            t.stop(victim, signal.SIGKILL)
            left = [ln for ln in host_state(lab, (victim,)).splitlines() if "tapliance" in ln]
            started = time.time()
            t.start(victim)
            time.sleep(bar + 1)
            resumed[victim] = (first_after(watch.replies(), started), bool(left))
    finally:
        s.close()
    changes = diff(before, host_state(lab))
    r.details = {
        "resumed_s": {k: v[0] for k, v in resumed.items()},
        "left_behind_by_kill": {k: v[1] for k, v in resumed.items()},
        "host_diff": changes,
    }
    times = [v[0] for v in resumed.values()]
    shown = ", ".join(f"{k} {'never' if v[0] is None else f'{v[0]:.2f} s'}" for k, v in resumed.items())
    r.measured = f"resumed after restart: {shown}; host diff after teardown: {len(changes)} lines"
    r.passed = all(x is not None and x <= bar for x in times) and not changes
    return r


def kill9_discovery(lab: Lab, wait: float = 25.0, bar: float = 5.0) -> Result:
    """The restarted side was configured without its peer's address: it starts from the address it had
    learnt before the crash (runtime/endpoints.py) and initiates at once, instead of waiting for the
    survivor's dead-peer detection (keepalive + 5 s of silence)."""
    r = Result("kill9-discovery", "kill -9 and restart of a side configured without its peer's address",
               f"traffic again <= {bar:g} s (it remembers the learnt address)")  # fmt: skip
    s = open_session(lab, "kill9-discovery", discovery=True)
    try:
        watch = Watch(lab, "a")
        time.sleep(0.5)
        s.tunnel.stop("b", signal.SIGKILL)
        started = time.time()
        s.tunnel.start("b")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and s.tunnel.peer("b")["handshakes"] == 0:
            time.sleep(0.2)
        time.sleep(1.0)
        resumed = first_after(watch.replies(), started)
    finally:
        s.close()
    r.details = {"resumed_s": resumed}
    shown = f"more than {wait:g} s" if resumed is None else f"{resumed:.1f} s"
    r.measured = f"traffic again after {shown} (the restarted side initiates to the address it had learnt)"
    r.passed = resumed is not None and resumed <= bar
    return r


def roam(lab: Lab, size: int, bar: float = 2.0) -> Result:
    r = Result("roam", "underlay address of a changes mid-transfer", f"traffic again <= {bar:g} s; transfer intact")
    s = open_session(lab, "roam")
    t = s.tunnel
    try:
        rx = Receiver(lab, "b")
        sender = subprocess.Popen(
            ["ip", "netns", "exec", lab.ns("a"), sys.executable, "-m", "torturelib.xfer", "send", OVERLAY["b"],
             str(rx.port), str(size)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        watch = Watch(lab, "a")
        time.sleep(1.0)
        moved = time.time()
        _move(lab)
        out, _ = sender.communicate(timeout=300)
        got = rx.result(timeout=30)
        time.sleep(0.5)
        replies = watch.replies()
        endpoint = t.peer("b")["endpoint"]
    finally:
        s.close()
        _move(lab, back=True)
    sent = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    intact = sent.get("sha256") == got["sha256"] and got["bytes"] == size
    resumed = first_after(replies, moved)
    r.details = {"resumed_s": resumed, "b_sees_a_at": endpoint, "transfer_intact": intact}
    r.measured = (
        f"traffic again after {'never' if resumed is None else f'{resumed:.2f} s'}; b now sends to {endpoint}; "
        f"{size >> 20} MiB transfer {'intact' if intact else 'DAMAGED'}"
    )
    r.passed = resumed is not None and resumed <= bar and intact and endpoint.startswith(ROAMED[0])
    return r


def _move(lab: Lab, back: bool = False) -> None:
    """a's underlay address changes from 10.77.1.1 to 10.77.4.1 (and back), its default route with it."""
    new, old = (ADDR["a"], ROAMED[0]) if back else (ROAMED[0], ADDR["a"])
    gw = ROUTER["a"] if back else ROAMED[1]
    lab.sh("a", ["ip", "addr", "add", f"{new}/24", "dev", "ul0"], check=False)
    lab.sh("a", ["ip", "route", "replace", "default", "via", gw])
    lab.sh("a", ["ip", "addr", "del", f"{old}/24", "dev", "ul0"], check=False)
