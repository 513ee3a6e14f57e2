"""QuickTun 2.2.6: its variables (from ``-c`` pairs, the environment or an ifupdown stanza) -> one
``[[peer]]`` of suite ``quicktun-<PROTOCOL>`` (seed notes 1.2; src/common.c and the protocols decide).

What QuickTun does and this mirrors: PROTOCOL unset means nacl0 when PRIVATE_KEY is set, else raw (not
PRIVATE_KEY_FILE); PRIVATE_KEY wins over PRIVATE_KEY_FILE; LOCAL_PORT and REMOTE_PORT default to 2998;
no or an all-zero REMOTE_ADDRESS is float mode; REMOTE_FLOAT set to anything (even 0) floats; ROLE only
matters as zero or non-zero; TIME_WINDOW and ROLE are nacltai's. What tapliance cannot do (TUN_MODE, a
packet-info header) is an error; what it does another way (TUN_UP_SCRIPT, SETUID, CHROOT, DEBUG) becomes
a comment. An inline PRIVATE_KEY is never printed: ``--key-out FILE`` writes it to a new 0600 file.
"""

from __future__ import annotations

import ipaddress

from tapliance import keyfile
from tapliance.compat.importers import quicktun_settings as qs
from tapliance.compat.importers.cmdline import InputError, Parser, Where, endpoint, integer, ip, is_v6, port
from tapliance.compat.importers.draft import Draft, NewFile
from tapliance.config.reader import IFNAME_RE
from tapliance.suites import REGISTRY

DEFAULT_PORT = 2998
PROTOCOLS = ("raw", "nacl0", "nacltai", "salty")

DESCRIPTION = """\
Reads QuickTun's settings in one of three forms:

  -c NAME VALUE ...        QuickTun's own command line (it then ignores the environment; so does this)
  --env                    QuickTun's variables from the environment: PROTOCOL, REMOTE_ADDRESS, ... as the
                           quicktun binary reads them, or IF_QT_<NAME> and IFACE as quicktun.debian does
  --ifupdown FILE --iface NAME
                           the qt_* options of interface NAME's stanza in FILE (/etc/network/interfaces)

and prints a tapliance config with one [[peer]] of suite quicktun-<PROTOCOL>. An inline PRIVATE_KEY is
not printed: --key-out FILE writes it to a new file (mode 0600) that the config names. Relative paths
become absolute."""

EXAMPLE = """\
examples:
  tapliance import quicktun --key-out /etc/tapliance/qt.key -c PROTOCOL nacltai \\
      -c REMOTE_ADDRESS 192.0.2.1 -c PRIVATE_KEY "$SECRET" -c PUBLIC_KEY 1f9c...1c18 -c TIME_WINDOW 5
  env $(cat /etc/default/quicktun) tapliance import quicktun --env
  tapliance import quicktun --ifupdown /etc/network/interfaces --iface tq0 --key-out /etc/tapliance/tq0.key"""


def _parser() -> Parser:
    p = Parser("quicktun", DESCRIPTION, EXAMPLE)
    p.add_argument("-c", nargs=2, action="append", metavar=("NAME", "VALUE"), help="a QuickTun variable")
    p.add_argument("--env", action="store_true", help="read QuickTun's variables from the environment")
    p.add_argument("--ifupdown", metavar="FILE", help="an interfaces(5) file with qt_* options")
    p.add_argument("--iface", metavar="NAME", help="the interface whose stanza to read (with --ifupdown)")
    p.add_argument("--key-out", metavar="FILE", help="write an inline PRIVATE_KEY to this new file (mode 0600)")
    return p


def _settings(argv: list[str], where: Where) -> tuple[qs.Settings, str | None]:
    a = _parser().parse_args(argv)
    forms = [f for f, given in (("-c", a.c), ("--env", a.env), ("--ifupdown", a.ifupdown)) if given]
    if len(forms) != 1:
        raise InputError(f"give one of -c NAME VALUE ..., --env, --ifupdown FILE (got {', '.join(forms) or 'none'})")
    if (a.iface is None) == (a.ifupdown is not None):
        raise InputError("--iface: --ifupdown FILE needs it" if a.ifupdown else "--iface: goes with --ifupdown FILE")
    if a.ifupdown:
        return qs.from_ifupdown(where.path(a.ifupdown, "--ifupdown"), a.iface), a.key_out
    return (qs.from_pairs(a.c) if a.c else qs.from_environ(where.environ)), a.key_out


def _flag(s: qs.Settings, name: str) -> int:
    value = s.get(name)
    return 0 if value is None else integer(value, s.label(name))


def _protocol(s: qs.Settings) -> tuple[str, str]:
    if _flag(s, "TUN_MODE"):
        raise InputError(f"{s.label('TUN_MODE')}: TUN mode is not supported: tapliance carries Ethernet frames (TAP)")
    if _flag(s, "USE_PI"):
        raise InputError(
            f"{s.label('USE_PI')}: a packet-info header is not supported (QuickTun 2.2.6 ignores USE_PI without "
            "TUN_MODE; older versions put the header on the wire): remove it if the far end runs without"
        )
    value = s.get("PROTOCOL")
    if value is None:
        if s.get("PRIVATE_KEY") is not None:
            return "nacl0", f"{s.label('PROTOCOL')} unset, {s.label('PRIVATE_KEY')} set: QuickTun's default, nacl0"
        return "raw", f"{s.label('PROTOCOL')} unset, no {s.label('PRIVATE_KEY')}: QuickTun's default, raw"
    if value not in PROTOCOLS:
        raise InputError(f"{s.label('PROTOCOL')}: must be one of {', '.join(PROTOCOLS)}, got {value!r}")
    return value, s.label("PROTOCOL")


def _interface(d: Draft, s: qs.Settings) -> None:
    name = s.get("INTERFACE")
    if name is None:
        d.interface.set("name", "tap0")
        d.interface.note("INTERFACE unset: QuickTun's TAP was named by the kernel (usually tap0); change it if not.")
    elif not IFNAME_RE.match(name):
        raise InputError(
            f"{s.label('INTERFACE')}: not a valid interface name {name!r} (1-15 chars of A-Z a-z 0-9 _ . -)"
        )
    else:
        d.interface.set("name", name, s.label("INTERFACE"))
    st = s.stanza
    if st is None:
        return
    if st.addresses:
        d.interface.set("addresses", st.addresses, f"iface {st.name}'s address and netmask")
    if st.mtu is not None:
        d.interface.set("mtu", st.mtu, f"iface {st.name}'s mtu")
    for option, value in st.other:
        d.interface.note(f"iface {st.name}: '{option} {value}' is ifupdown's, not imported.")


def _given(s: qs.Settings, name: str, default: str = f"{DEFAULT_PORT}, QuickTun's default") -> str:
    return s.label(name) if s.get(name) is not None else f"{s.label(name)} unset ({default})"


def _sockets(d: Draft, s: qs.Settings, protocol: str) -> None:
    lab = s.label
    local, remote = s.get("LOCAL_ADDRESS"), s.get("REMOTE_ADDRESS")
    lhost = ip(local, lab("LOCAL_ADDRESS")) if local is not None else None
    rhost = ip(remote, lab("REMOTE_ADDRESS")) if remote is not None else None
    if lhost and rhost and is_v6(lhost) != is_v6(rhost):
        raise InputError(
            f"{lab('REMOTE_ADDRESS')}: its family differs from LOCAL_ADDRESS's (QuickTun refuses that too)"
        )
    lport = port(v, lab("LOCAL_PORT")) if (v := s.get("LOCAL_PORT")) is not None else DEFAULT_PORT
    host = lhost or ("::" if rhost and is_v6(rhost) else "0.0.0.0")
    d.peer.set(
        "listen", endpoint(host, lport), f"{_given(s, 'LOCAL_ADDRESS', 'any address')}, {_given(s, 'LOCAL_PORT')}"
    )
    raw = protocol == "raw"
    if rhost is None or not any(ipaddress.ip_address(rhost).packed):
        learned = (
            "datagram, whose address is then kept (raw proves no sender; QuickTun followed any)."
            if raw
            else "authenticated datagram, and its address is followed, as QuickTun did."
        )
        d.peer.note(f"Float mode (no REMOTE_ADDRESS, or all zero): nothing is sent until the far end's first {learned}")
        return
    rport = port(v, lab("REMOTE_PORT")) if (v := s.get("REMOTE_PORT")) is not None else DEFAULT_PORT
    d.peer.set("endpoint", endpoint(rhost, rport), f"{lab('REMOTE_ADDRESS')}, {_given(s, 'REMOTE_PORT')}")
    if raw:
        d.peer.note("raw proves nothing about a sender: tapliance keeps sending to the endpoint, whoever else sends.")
    elif s.get("REMOTE_FLOAT") is not None:
        d.peer.note(
            f"{lab('REMOTE_FLOAT')} set (to anything, even 0): the far end is followed to a new address, as here."
        )
    else:
        d.peer.note(
            "QuickTun connect()ed its socket and heard only the endpoint; tapliance also follows the far end to a new "
            "address after an authenticated datagram from it."
        )


def _hex_key(text: str, what: str) -> bytes:
    if len(text) != 64:
        raise InputError(f"{what}: expected 64 hex digits, got {len(text)} characters")
    bad = next((i for i, c in enumerate(text) if c not in "0123456789abcdefABCDEF"), None)
    if bad is not None:
        raise InputError(f"{what}: character {bad + 1} is not a hex digit (QuickTun would half-parse it)")
    return bytes.fromhex(text)


def _keys(d: Draft, s: qs.Settings, protocol: str, key_out: str | None, where: Where) -> None:
    lab, p = s.label, d.peer
    present = [n for n in ("PUBLIC_KEY", "PRIVATE_KEY", "PRIVATE_KEY_FILE") if s.get(n) is not None]
    if protocol == "raw":
        if key_out is not None:
            raise InputError("--key-out: PROTOCOL raw uses no key; there is nothing to write")
        for n in present:
            p.note(f"{lab(n)}: not used by raw (nor by QuickTun).")
        return
    pub = s.get("PUBLIC_KEY")
    if pub is None:
        raise InputError(f"{lab('PUBLIC_KEY')}: missing: PROTOCOL {protocol} needs the far end's public key")
    p.set("public_key", _hex_key(pub, lab("PUBLIC_KEY")).hex(), f"{lab('PUBLIC_KEY')}: the far end's key")
    secret, key_file = s.get("PRIVATE_KEY"), s.get("PRIVATE_KEY_FILE")
    if secret is not None:
        raw_key = _hex_key(secret, lab("PRIVATE_KEY"))
        if key_out is None:
            raise InputError(
                f"{lab('PRIVATE_KEY')}: the secret is not copied into a config: give --key-out FILE to write it to a "
                "new file (mode 0600) that the config names"
            )
        path = where.path(key_out, "--key-out")
        d.writes.append(NewFile(path, raw_key.hex().encode("ascii") + b"\n", 0o600, "--key-out"))
        p.set("private_key_file", path, f"{lab('PRIVATE_KEY')}, written by --key-out (mode 0600, 64 hex digits)")
        p.note(f"This end's public key (the far end's PUBLIC_KEY): {keyfile.public_from_private(raw_key).hex()}")
        if key_file is not None:
            p.note(f"{lab('PRIVATE_KEY_FILE')}: not used; QuickTun takes PRIVATE_KEY first.")
    elif key_file is not None:
        if key_out is not None:
            raise InputError("--key-out: there is no inline PRIVATE_KEY to write (PRIVATE_KEY_FILE is named as it is)")
        p.set("private_key_file", where.path(key_file, lab("PRIVATE_KEY_FILE")), lab("PRIVATE_KEY_FILE"))
    else:
        raise InputError(f"{lab('PRIVATE_KEY')}: missing: PROTOCOL {protocol} needs PRIVATE_KEY or PRIVATE_KEY_FILE")


def _nacltai(d: Draft, s: qs.Settings, protocol: str) -> None:
    window, role = s.get("TIME_WINDOW"), s.get("ROLE")
    if protocol != "nacltai":
        for n in ("TIME_WINDOW", "ROLE"):
            if s.get(n) is not None:
                d.peer.note(f"{s.label(n)}: not used by {protocol} (QuickTun reads it for nacltai only).")
        return
    if window is not None:
        seconds = integer(window, s.label("TIME_WINDOW"))
        if not 0 <= seconds <= 86400:
            raise InputError(f"{s.label('TIME_WINDOW')}: must be 0-86400 seconds, got {seconds}")
        d.peer.set("time_window", seconds, s.label("TIME_WINDOW"))
    else:
        d.peer.note(
            "TIME_WINDOW unset: as QuickTun warns, datagrams recorded before a start are accepted after it until 5 "
            "new labels arrive; time_window = SECONDS refuses labels older than that."
        )
    if role is not None:
        value = integer(role, s.label("ROLE"))
        d.peer.set("quicktun_role", 1 if value else 0, f"{s.label('ROLE')} {role}: QuickTun asks only if it is 0")


def _elsewhere(d: Draft, s: qs.Settings) -> None:
    instead = {
        "TUN_UP_SCRIPT": "not run. QuickTun ran it once the device was open; tapliance sets [interface] addresses "
        "and brings the link up itself: run anything else from its systemd unit (ExecStartPost=).",
        "SETUID": "tapliance has no privilege drop yet: it runs as the user its systemd unit starts it as.",
        "CHROOT": "no chroot: confine the service with systemd instead (RootDirectory=, ProtectSystem=).",
        "DEBUG": 'tapliance\'s equivalent is [log] level = "debug" (left at info here).',
        "NO_PRECREATE": "Debian's hooks then ran QuickTun as root instead of creating the TAP for user quicktun; "
        "tapliance creates or attaches to the TAP itself.",
    }
    for name, text in instead.items():
        value = s.get(name)
        if value is not None:
            d.peer.note(f"{s.label(name)}={value}: {text}" if name != "DEBUG" else f"{s.label(name)}: {text}")
    if s.hooks:
        d.peer.note(
            "Debian's hooks ran QuickTun under daemon(1) as user quicktun: tapliance runs from its own systemd unit. "
            "Take the qt_* options (and the addresses, now tapliance's) out of the stanza, or ifupdown starts "
            "QuickTun again."
        )


STRICTER = {
    "raw": "Stricter than QuickTun (tapliance/suites/quicktun.py): a datagram identical to one accepted or sent "
    "in the last 0.5 s is refused (network duplicates, replay floods, reflections).",
    "nacl0": "Stricter than QuickTun (tapliance/suites/quicktun.py): a datagram identical to one accepted or sent "
    "in the last 0.5 s is refused (network duplicates, replay floods, reflections); later replays pass, as there.",
    "nacltai": "Receive rules as QuickTun's (tapliance/suites/quicktun.py): labels must be new and above the "
    "smallest of the last 5 accepted.",
    "salty": "Stricter than QuickTun (tapliance/suites/salty.py): replay counters are kept across key updates; "
    "the all-zero start key is skipped, where QuickTun's libsodium build aborts.",
}


def draft(argv: list[str], where: Where) -> Draft:
    s, key_out = _settings(argv, where)
    protocol, why = _protocol(s)
    suite = f"quicktun-{protocol}"
    d = Draft("QuickTun", s.origin, "QuickTun left the MTU alone (1500) and its full-size datagrams were fragmented.")
    _interface(d, s)
    d.peer.set("name", "quicktun")
    d.peer.set("suite", suite, why)
    _sockets(d, s, protocol)
    _keys(d, s, protocol, key_out, where)
    _nacltai(d, s, protocol)
    weakness = REGISTRY[suite].insecure
    if weakness:
        d.peer.set("allow_insecure", True, f"{protocol}'s weakness: {weakness}")
    _elsewhere(d, s)
    d.peer.note(STRICTER[protocol])
    return d
