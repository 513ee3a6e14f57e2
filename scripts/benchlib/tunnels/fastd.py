"""fastd, tap mode, salsa2012+umac (fastd's fast recommended method), MTU 1500.

Keys come from ``fastd --generate-key``. The up hook assigns the tunnel address.
"""

from __future__ import annotations

from pathlib import Path

from ..lab import OVERLAY, SIDES, UNDERLAY, BenchError, Lab, run
from .base import Daemons, Tunnel, first_line

PORT = 10000
METHOD = "salsa2012+umac"


def keypair() -> tuple[str, str]:
    out = run(["fastd", "--generate-key"], timeout=30).stdout.decode()
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    try:
        return fields["Secret"].strip(), fields["Public"].strip()
    except KeyError:
        raise BenchError(f"fastd --generate-key: unexpected output {out!r}") from None


class Fastd(Tunnel):
    name = "fastd"
    label = f"fastd {METHOD}"
    packages = ("fastd",)

    def version(self) -> str:
        return first_line(["fastd", "--version"])

    def describe(self) -> str:
        return f"fastd mode tap, method {METHOD}, mtu 1500; a dials b"

    def up(self, lab: Lab, work: Path) -> Daemons:
        keys = {s: keypair() for s in SIDES}
        argv = {}
        # only a initiates: b also dialling a (before a is bound) crosses the handshakes, and fastd then
        # takes ~20 s to settle
        remote = {"a": f"  remote {UNDERLAY['b']}:{PORT};\n", "b": ""}
        for s in SIDES:
            other = "b" if s == "a" else "a"
            conf = work / f"fastd-{s}.conf"
            conf.write_text(
                f'log to stderr level info;\ninterface "fastd0";\nmode tap;\nmethod "{METHOD}";\n'
                f'bind {UNDERLAY[s]}:{PORT};\nsecret "{keys[s][0]}";\nmtu 1500;\n'
                f'on up sync "ip addr add {OVERLAY[s]}/24 dev $INTERFACE && ip link set $INTERFACE up";\n'
                f'peer "{other}" {{\n  key "{keys[other][1]}";\n{remote[s]}}}\n'
            )
            argv[s] = ["fastd", "--config", str(conf)]
        return self.start_pair(lab, work, argv, "udp", PORT)
