"""QuickTun 2.2.6 from Debian's ``quicktun`` package, protocol nacltai, and tapliance speaking the same format
(a ``quicktun-nacltai`` peer) beside it.

Debian's build reads its settings from ``IF_QT_<NAME>`` variables and the device from ``IFACE`` (what
ifupdown passes its hooks); it neither creates nor configures the TAP, so the device is pre-created,
addressed and brought up here, as the package's if-pre-up hook and ifupdown would. Both rows run the TAP
at 1426, what nacltai's 32 bytes of overhead leave unfragmented over a 1500-byte underlay (tapliance's
default for the suite; QuickTun itself leaves the TAP at 1500 and lets the kernel fragment), so the two
rows carry the same frames in the same datagrams. Keys: QuickTun's own ``keypair`` tool; the tapliance
row uses ``tapliance genkey`` keys, given to the peer as 64 hex digits.
"""

from __future__ import annotations

import base64
from pathlib import Path

from ..lab import OVERLAY, SIDES, UNDERLAY, BenchError, Lab, run
from .base import Daemons, Tunnel, first_line
from .tapliance import TAPLIANCE, Tapliance

PORT = 2998  # QuickTun's default
MTU = 1426
KEYPAIR = "/usr/sbin/keypair"
QUICKTUN = "/usr/sbin/quicktun"
DEV = "qt0"


def keypair() -> tuple[str, str]:
    """(secret, public) in hex, from QuickTun's ``keypair`` (``SECRET: ...`` / ``PUBLIC: ...``)."""
    out = run([KEYPAIR], timeout=10).stdout.decode(errors="replace")
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    try:
        return fields["SECRET"].strip()[:64], fields["PUBLIC"].strip()[:64]
    except KeyError:
        raise BenchError(f"{KEYPAIR}: unexpected output {out!r}") from None


class QuickTun(Tunnel):
    name = "quicktun"
    label = "QuickTun 2.2.6 nacltai"
    packages = ("quicktun",)

    def version(self) -> str:
        return "QuickTun " + first_line(["dpkg-query", "-W", "-f=${Version}", "quicktun"])

    def describe(self) -> str:
        return f"Debian's quicktun, PROTOCOL=nacltai, TAP {DEV} pre-created, mtu {MTU}; a knows b's address, b floats"

    def up(self, lab: Lab, work: Path) -> Daemons:
        keys = {s: keypair() for s in SIDES}
        argv = {}
        for s in SIDES:
            other = "b" if s == "a" else "a"
            for cmd in (
                ["ip", "tuntap", "add", DEV, "mode", "tap"],
                ["ip", "link", "set", DEV, "mtu", str(MTU)],
                ["ip", "addr", "add", f"{OVERLAY[s]}/24", "dev", DEV],
                ["ip", "link", "set", DEV, "up"],
            ):
                lab.sh(s, cmd)
            env = {
                "PROTOCOL": "nacltai",
                "PRIVATE_KEY": keys[s][0],
                "PUBLIC_KEY": keys[other][1],
                "LOCAL_ADDRESS": UNDERLAY[s],
                "LOCAL_PORT": str(PORT),
                "TIME_WINDOW": "10",
            }
            if s == "a":
                env |= {"REMOTE_ADDRESS": UNDERLAY["b"], "REMOTE_PORT": str(PORT)}
            argv[s] = ["env", "-i", f"IFACE={DEV}", *(f"IF_QT_{k}={v}" for k, v in env.items()), QUICKTUN]
        try:
            return self.start_pair(lab, work, argv, "udp", PORT)
        except BaseException:
            self._remove_devices(lab)
            raise

    def down(self, lab: Lab, daemons: Daemons) -> None:
        super().down(lab, daemons)
        self._remove_devices(lab)

    def _remove_devices(self, lab: Lab) -> None:
        for s in SIDES:  # pre-created, so persistent: it would outlive QuickTun and clash with the next row
            lab.sh(s, ["ip", "link", "del", DEV], check=False)


class TaplianceQuicktun(Tapliance):
    """tapliance with one ``quicktun-nacltai`` peer on each side (TAP MTU: the suite's default, 1426)."""

    def __init__(self) -> None:
        super().__init__("tapliance-quicktun", "quicktun-nacltai")

    def describe(self) -> str:
        return "tapliance up, one [[peer]] suite quicktun-nacltai on UDP 2998, interface mtu 1426 (the suite's default)"

    def up(self, lab: Lab, work: Path) -> Daemons:
        if not TAPLIANCE.exists():
            raise BenchError(f"{TAPLIANCE} missing: run scripts/bootstrap")
        pub = {}
        for s in SIDES:
            key = work / f"{self.name}-{s}.key"
            key.unlink(missing_ok=True)
            run([str(TAPLIANCE), "genkey", "-o", str(key)])
            b64 = run([str(TAPLIANCE), "pubkey"], input=key.read_bytes()).stdout.decode().strip()
            pub[s] = base64.b64decode(b64).hex()  # QuickTun's form of a public key
        argv = {}
        for s in SIDES:
            other = "b" if s == "a" else "a"
            endpoint = f'endpoint = "{UNDERLAY[other]}:{PORT}"\n' if s == "a" else ""
            conf = work / f"{self.name}-{s}.toml"
            conf.write_text(
                f'[interface]\nname = "tl0"\naddresses = ["{OVERLAY[s]}/24"]\n\n'
                f'[tunnel]\nprivate_key_file = "{work / f"{self.name}-{s}.key"}"\n'
                f'control_socket = "{work / f"{self.name}-{s}.sock"}"\n\n'
                f'[[peer]]\nname = "{other}"\nsuite = "quicktun-nacltai"\nlisten = "{UNDERLAY[s]}:{PORT}"\n'
                f'public_key = "{pub[other]}"\ntime_window = 10\n{endpoint}'
            )
            argv[s] = [*self.command(), "up", "-c", str(conf)]
        return self.start_pair(lab, work, argv, "udp", PORT)
