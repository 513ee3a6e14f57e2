"""OTPTunnel (the 2013 ``otptunnel.py``): its argparse options, with their names and defaults (seed notes 1.4).

``-A`` is required although argparse does not say so: without it OTPTunnel's client prints its help, and
its server crashes at the first frame it sends (to ``-A:-P``). ``--tap-netmask`` is a prefix length (it
calls ``int()`` on it). ``--tap-mtu`` is only the size of its TAP reads; the interface MTU stayed 1500.
Its socket is IPv4 (AF_INET), so every address here is IPv4.
"""

from __future__ import annotations

import ipaddress
import shlex

from tapliance.compat.importers.cmdline import InputError, Parser, Where, endpoint, integer, ip, port
from tapliance.compat.importers.draft import Draft
from tapliance.suites import REGISTRY

DESCRIPTION = """\
Reads OTPTunnel's own command line, exactly as you start it (the same options and defaults):

  otptunnel.py [-S] -K pad -A remote_ip [-P 12000] [--local-addr 0.0.0.0] [--local-port 12000]
               [--tap-addr 10.8.0.1] [--tap-netmask 24] [--tap-mtu 32768]

and prints a tapliance config with one [[peer]] of suite otptunnel: -S is the server (odd pad offsets),
-K the pad file, -A:-P the far end, --local-addr:--local-port this end's socket, --tap-addr/--tap-netmask
the TAP's address. Relative paths become absolute."""

EXAMPLE = """\
example (the README's server and client):
  tapliance import otptunnel -S -K /srv/pad.bin -A 203.0.113.7
  tapliance import otptunnel -K /srv/pad.bin -A 198.51.100.1 --tap-addr 10.8.0.2"""


def _parser() -> Parser:
    p = Parser("otptunnel", DESCRIPTION, EXAMPLE)
    p.add_argument("-S", "--server", action="store_true", dest="server", help="server mode (default: client mode)")
    p.add_argument("-K", dest="keyfile", help="the pad file")
    p.add_argument("-A", dest="remote_address", help="the far end's address (required, also with -S)")
    p.add_argument("-P", dest="remote_port", default="12000", help="the far end's port (default: 12000)")
    p.add_argument("--tap-addr", dest="taddr", default=None, help="the TAP's address (default: 10.8.0.1)")
    p.add_argument("--tap-netmask", dest="tmask", default="24", help="its prefix length (default: 24)")
    p.add_argument("--tap-mtu", dest="tmtu", default=None, help="OTPTunnel's TAP read size (default: 32768)")
    p.add_argument("--local-addr", dest="laddr", default="0.0.0.0", help="address to bind (default: 0.0.0.0)")
    p.add_argument("--local-port", dest="lport", default="12000", help="port to bind (default: 12000)")
    return p


def _v4(text: str, what: str) -> str:
    host = ip(text, what)
    if ":" in host:
        raise InputError(f"{what}: {text!r}: OTPTunnel's socket is IPv4 only")
    return host


def _tap_address(addr: str, mask: str) -> str:
    host = _v4(addr, "--tap-addr")
    bits = integer(mask, "--tap-netmask")
    if not 0 <= bits <= 32:
        raise InputError(f"--tap-netmask: a prefix length 0-32 (OTPTunnel takes int() of it), got {mask!r}")
    return str(ipaddress.ip_interface(f"{host}/{bits}"))


def draft(argv: list[str], where: Where) -> Draft:
    a = _parser().parse_args(argv)
    if a.keyfile is None:
        raise InputError("-K: missing: the pad file (OTPTunnel does not start without it)")
    if a.remote_address is None:
        raise InputError("-A: missing: the far end's address (OTPTunnel needs it with -S too: it sends only there)")
    d = Draft(
        "OTPTunnel",
        ["tapliance config imported from OTPTunnel's command line:", "  " + shlex.join(["otptunnel.py", *argv])],
        "OTPTunnel left the TAP at 1500, so full-size frames became 1536-byte datagrams, fragmented on the way.",
    )
    d.interface.set("name", "tap0")
    d.interface.note(
        "OTPTunnel's TAP was named by the kernel (the first free tapN, usually tap0); tapliance needs a fixed "
        "name: tap0 is the usual one, change it if yours was another."
    )
    d.interface.set("addresses", [_tap_address(a.taddr or "10.8.0.1", a.tmask)], "--tap-addr/--tap-netmask")
    if not a.server and a.taddr is None:
        d.interface.note(
            "--tap-addr was not given: OTPTunnel's default 10.8.0.1 is the server's default too; its README's "
            "client passes --tap-addr 10.8.0.2."
        )
    if a.tmtu is not None:
        integer(a.tmtu, "--tap-mtu")
        d.interface.note(f"--tap-mtu {a.tmtu}: only OTPTunnel's TAP read size (its MTU stayed 1500); not an MTU here.")
    p = d.peer
    p.set("name", "otptunnel")
    p.set("suite", "otptunnel")
    p.set("server", a.server, "-S: the server, odd pad offsets" if a.server else "no -S: the client, even pad offsets")
    p.set("pad_file", where.path(a.keyfile, "-K"), "-K")
    p.set("listen", endpoint(_v4(a.laddr, "--local-addr"), port(a.lport, "--local-port")), "--local-addr:--local-port")
    p.set("endpoint", endpoint(_v4(a.remote_address, "-A"), port(a.remote_port, "-P")), "-A:-P")
    p.set("allow_insecure", True, f"OTPTunnel's weakness: {REGISTRY['otptunnel'].insecure}")
    p.note(
        "OTPTunnel sent only to -A:-P and accepted datagrams from anywhere; tapliance sends to -A:-P and follows "
        "the far end to the address of an accepted datagram."
    )
    p.note(
        "Stricter than OTPTunnel (tapliance/suites/otptunnel.py): replays, reused pad ranges and our own "
        "datagrams sent back are refused. So is a restarted far end, whose offsets start again at 0 or 1, until "
        "tapliance restarts too; accept_restart_after = SECONDS accepts it after that many quiet seconds, at the "
        "price of re-admitting replays of its earlier run."
    )
    return d
