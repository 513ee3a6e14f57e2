"""tappet: ``tappet <ifname> <nonce-file> <our.key> <their.pub> <ip> <port> [-l]`` (seed notes 1.3).

Its checks, mirrored: six arguments are mandatory; ``<ip>`` is a numeric IPv4 or IPv6 address; the port is
1-65534 (tappet refuses 0 and 65535). Stricter than tappet: its ``strtol`` takes ``11011x`` and ``-5`` as
ports, and it ignores any seventh argument other than ``-l`` (running as a client); both are errors here.
"""

from __future__ import annotations

import shlex

from tapliance.compat.importers.cmdline import InputError, Parser, Where, endpoint, ip, port
from tapliance.compat.importers.draft import Draft
from tapliance.config.reader import IFNAME_RE

DESCRIPTION = """\
Reads tappet's own command line, exactly as you start it:

  tappet <ifname> <nonce-file> <our.key> <their.pub> <ip> <port> [-l]

  <ifname>     the TAP it attaches to (created beforehand with ip tuntap add)
  <nonce-file> its 4-byte nonce file; tapliance increments and writes it back at each start, as tappet does
  <our.key>    this end's NAME.key (64 hex digits and a newline, mode 0600)
  <their.pub>  the far end's NAME.pub
  <ip> <port>  with -l (server): the address it listens on; without (client): the server's address
  -l           server mode

and prints a tapliance config with one [[peer]] of suite tappet. Relative paths become absolute."""

EXAMPLE = """\
example (the README's server and client):
  tapliance import tappet tappet0 ~/nonce ~/Y.key ~/X.pub 192.0.2.34 11011 -l
  tapliance import tappet tappet0 ~/nonce ~/X.key ~/Y.pub 192.0.2.34 11011"""


def _parser() -> Parser:
    p = Parser("tappet", DESCRIPTION, EXAMPLE)
    for name in ("<ifname>", "<nonce-file>", "<our.key>", "<their.pub>", "<ip>", "<port>"):
        p.add_argument(name.strip("<>").replace("-", "_").replace(".", "_"), metavar=name)
    p.add_argument("-l", dest="listen", action="store_true", help="server mode: listen on <ip> <port>")
    return p


def draft(argv: list[str], where: Where) -> Draft:
    a = _parser().parse_args(argv)
    if a.listen and argv.index("-l") != 6:
        raise InputError("-l: tappet reads it only as the seventh argument, after <port>")
    if not IFNAME_RE.match(a.ifname):
        raise InputError(f"<ifname>: not a valid interface name {a.ifname!r} (1-15 chars of A-Z a-z 0-9 _ . -)")
    host = ip(a.ip, "<ip>")
    number = port(a.port, "<port>", hi=65534)
    d = Draft(
        "tappet",
        ["tapliance config imported from tappet's command line:", "  " + shlex.join(["tappet", *argv])],
        "tappet never set it (its README's PMTU - 74 ignores the IP and UDP headers; 1402 is right over IPv4).",
    )
    d.interface.set("name", a.ifname, "<ifname>")
    d.interface.note(
        "tappet attached to a TAP created beforehand (ip tuntap add ... mode tap user ...); tapliance attaches "
        "to it if it exists and creates it otherwise (create = false: only attach)."
    )
    p = d.peer
    p.set("name", "tappet")
    p.set("suite", "tappet")
    if a.listen:
        p.set("server", True, "-l")
        p.set("listen", endpoint(host, number), "-l: tappet listened on <ip> <port>")
        p.note("As tappet's server: the far end is learned from its first authenticated datagram, then followed.")
    else:
        p.set("server", False, "no -l: client")
        p.set("endpoint", endpoint(host, number), "<ip> <port>; sent from an ephemeral port, as tappet did")
    p.set("private_key_file", where.path(a.our_key, "<our.key>"), "<our.key>")
    p.set("public_key_file", where.path(a.their_pub, "<their.pub>"), "<their.pub>")
    p.set("nonce_file", where.path(a.nonce_file, "<nonce-file>"), "<nonce-file>")
    p.note(
        "Keep this nonce file: each start takes the next prefix from it, so the far end, which refuses any nonce "
        "not above the last it accepted, keeps accepting. tapliance writes it back, so its user must be able to."
    )
    p.note(
        "Stricter than tappet (tapliance/suites/tappet.py): our own datagrams sent back are refused (tappet took "
        "them when their nonce was above the far end's); otherwise tappet's rules: strictly increasing nonces."
    )
    return d
