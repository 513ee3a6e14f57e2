"""Where QuickTun 2.2.6 reads its settings from, in the three forms an importer takes (seed notes 1.2).

- ``-c NAME VALUE`` pairs, QuickTun's own argv form: once any ``-c`` is given it reads nothing from the
  environment, so neither does this form.
- The environment (``--env``): the ``quicktun`` binary reads ``NAME``; the Debian binary
  ``quicktun.debian`` reads ``IF_QT_NAME``, and ``INTERFACE`` from ``IFACE``. Which one ran is told by
  the variables: any ``IF_QT_*`` means the Debian form. Both kinds at once is refused, since the two
  binaries would run different tunnels from it.
- A stanza of ``/etc/network/interfaces`` (``--ifupdown FILE --iface NAME``) with ``qt_*`` options, as
  ifupdown passes them to the Debian binary through Debian's hooks.

As in QuickTun, a variable set to the empty string is set. Unlike QuickTun, a name it does not know is
an error rather than ignored (in ``-c`` and ``qt_*`` form, where it can only be a typo), and so is a
name given twice (QuickTun takes the first).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tapliance.compat.importers import ifupdown
from tapliance.compat.importers.cmdline import InputError

# what QuickTun 2.2.6 reads (getconf), in the order of its documentation
VARIABLES = (
    "PROTOCOL",
    "INTERFACE",
    "TUN_MODE",
    "USE_PI",
    "TUN_UP_SCRIPT",
    "LOCAL_ADDRESS",
    "LOCAL_PORT",
    "REMOTE_ADDRESS",
    "REMOTE_PORT",
    "REMOTE_FLOAT",
    "PRIVATE_KEY",
    "PRIVATE_KEY_FILE",
    "PUBLIC_KEY",
    "TIME_WINDOW",
    "ROLE",
    "SETUID",
    "CHROOT",
    "DEBUG",
)
HOOK_ONLY = ("NO_PRECREATE",)  # read by Debian's ifupdown hooks, not by QuickTun itself
SECRET = "PRIVATE_KEY"


@dataclass
class Settings:
    """QuickTun's variables as one form gave them; ``labels`` names each as the user wrote it."""

    values: dict[str, str]
    labels: dict[str, str]
    origin: list[str]
    stanza: ifupdown.Stanza | None = None
    hooks: bool = False  # started by Debian's ifupdown hooks

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def label(self, name: str) -> str:
        return self.labels.get(name, name)


def _shown(name: str, value: str) -> str:
    return "<secret, not shown>" if name == SECRET else value


def from_pairs(pairs: list[list[str]]) -> Settings:
    values: dict[str, str] = {}
    for name, value in pairs:
        if name not in VARIABLES:
            raise InputError(f"-c {name}: not a QuickTun variable (it reads {', '.join(VARIABLES)})")
        if name in values:
            raise InputError(f"-c {name}: given twice (QuickTun would take the first); give it once")
        values[name] = value
    shown = ["quicktun", *(w for n, v in pairs for w in ("-c", n, _shown(n, v)))]
    return Settings(values, {}, ["tapliance config imported from QuickTun's command line:", "  " + shlex.join(shown)])


def from_environ(environ: Mapping[str, str]) -> Settings:
    debian = sorted(k for k in environ if k.startswith("IF_QT_"))
    plain = [k for k in VARIABLES if k in environ and k != "DEBUG"]
    if debian and plain:
        raise InputError(
            f"--env: both QuickTun's variables ({', '.join(plain)}) and the Debian binary's ({', '.join(debian)}) "
            "are set, and the two binaries would read different ones; unset one kind"
        )
    if not debian:
        values = {k: environ[k] for k in VARIABLES if k in environ}
        lines = [f"  {k}={shlex.quote(_shown(k, v))}" for k, v in values.items()]
        return Settings(values, {}, ["tapliance config imported from QuickTun's environment (quicktun):", *lines])
    labels = {k: f"IF_QT_{k}" for k in (*VARIABLES, *HOOK_ONLY)} | {"INTERFACE": "IFACE"}
    values = {k: environ[label] for k, label in labels.items() if label in environ}
    lines = [f"  {labels[k]}={shlex.quote(_shown(k, v))}" for k, v in values.items()]
    unknown = [k for k in debian if k[6:] not in labels]
    if unknown:
        raise InputError(f"{unknown[0]}: not a QuickTun variable (it reads {', '.join(VARIABLES)})")
    head = "tapliance config imported from the environment of QuickTun's Debian binary (quicktun.debian):"
    return Settings(values, labels, [head, *lines])


def from_ifupdown(path: Path, iface: str) -> Settings:
    st = ifupdown.read(path, iface)
    values, labels = {"INTERFACE": iface}, {"INTERFACE": f"--iface {iface}"}
    for option, name, value in st.qt:
        if name not in VARIABLES and name not in HOOK_ONLY:
            raise InputError(f"{option}: not a QuickTun option (qt_ + one of {', '.join(VARIABLES)})")
        if name in values:
            raise InputError(f"{option}: given twice; give it once")
        values[name], labels[name] = value, option
    if not values.get("REMOTE_ADDRESS"):
        raise InputError(
            f"qt_remote_address: missing in iface {iface}: Debian's hooks start QuickTun only when it is set "
            "(0.0.0.0 for float mode)"
        )
    lines = [f"  {h}" for h in st.headers] + [f"    {o} {_shown(n, v)}" for o, n, v in st.qt]
    head = f"tapliance config imported from {path} (ifupdown's qt_* options, as Debian's QuickTun hooks pass them):"
    return Settings(values, labels, [head, *lines], stanza=st, hooks=True)
