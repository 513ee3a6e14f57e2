"""tinytaptunnel v1.4: ``tinytaptunnel <key file> <local address> [peer address]`` (seed notes 1.1).

Addresses are Go's ResolveUDPAddr syntax (``:9123``, ``1.2.3.4:9123``, ``[::1]:9123``), with no default
port. An empty host makes Go listen on every address of both families; the listen address here is the
peer's family's wildcard, or dual-stack ``[::]`` when there is no peer. Host names, which Go resolves at
start, are refused: the config holds addresses.
"""

from __future__ import annotations

import shlex

from tapliance.compat.importers.cmdline import InputError, Parser, Where, endpoint, host_port, is_v6
from tapliance.compat.importers.draft import Draft
from tapliance.suites import REGISTRY

DESCRIPTION = """\
Reads tinytaptunnel's own command line, exactly as you start it:

  tinytaptunnel <key file> <local address> [peer address]

  <key file>       its base64 key file; like tinytaptunnel, tapliance creates it (mode 0600) if missing
  <local address>  the UDP address it listens on, Go syntax: :9123, 1.2.3.4:9123, [::]:9123 (no default)
  [peer address]   the far end's IP:PORT; without it, the far end is learned from its first valid datagram

and prints a tapliance config with one [[peer]] of suite tinytaptunnel. Relative paths become absolute."""

EXAMPLE = """\
example:
  tapliance import tinytaptunnel /etc/ttt.key :9123 192.0.2.1:9123 > /etc/tapliance/tapliance.toml
  tapliance import -o /etc/tapliance/tapliance.toml tinytaptunnel ttt.key :9123"""


def _parser() -> Parser:
    p = Parser("tinytaptunnel", DESCRIPTION, EXAMPLE)
    p.add_argument("key_file", metavar="<key file>")
    p.add_argument("local", metavar="<local address>")
    p.add_argument("peer", metavar="peer address", nargs="?")
    return p


def draft(argv: list[str], where: Where) -> Draft:
    a = _parser().parse_args(argv)
    key_file = where.path(a.key_file, "<key file>")
    host, port = host_port(a.local, "<local address>")
    peer = host_port(a.peer, "[peer address]") if a.peer is not None else None
    if peer is not None and not peer[0]:
        raise InputError(f"[peer address]: {a.peer!r} has no host")
    if peer is not None and host and is_v6(host) != is_v6(peer[0]):
        raise InputError("[peer address]: its address family differs from the <local address>'s")
    d = Draft(
        "tinytaptunnel",
        ["tapliance config imported from tinytaptunnel's command line:", "  " + shlex.join(["tinytaptunnel", *argv])],
        "tinytaptunnel set 1418 itself over any underlay (over IPv6 its full-size datagrams were fragmented).",
    )
    d.interface.set("name", "tap0")
    d.interface.note(
        "tinytaptunnel's TAP was named by the kernel (the first free tapN, usually tap0) and could not be chosen; "
        "tapliance needs a fixed name: tap0 is the usual one, change it if yours was another (bridge scripts)."
    )
    p = d.peer
    p.set("name", "tinytaptunnel")
    p.set("suite", "tinytaptunnel")
    p.set("key_file", key_file, "<key file>; created (mode 0600) at start if missing, as tinytaptunnel does")
    if host:
        p.set("listen", endpoint(host, port), "<local address>")
    else:
        wildcard = "0.0.0.0" if peer is not None and not is_v6(peer[0]) else "::"
        p.set("listen", endpoint(wildcard, port), f"<local address> {a.local}: Go listened on every address")
    if peer is not None:
        p.set("endpoint", endpoint(*peer), "[peer address]")
        p.note(
            "tinytaptunnel heard only the [peer address]; tapliance sends there too, and follows the far end to a "
            "new address after an authenticated datagram from it."
        )
    else:
        p.note(
            "No [peer address]: the far end is learned from its first authenticated datagram and followed to any "
            "new address, and nothing is sent before, as tinytaptunnel did."
        )
    p.set("allow_insecure", True, f"tinytaptunnel's weakness: {REGISTRY['tinytaptunnel'].insecure}")
    p.note(
        "Stricter than tinytaptunnel (tapliance/suites/tinytaptunnel.py): a byte-identical replay within its 3 s "
        "window, a timestamp more than 60 s ahead, and our own datagrams sent back are refused."
    )
    return d
