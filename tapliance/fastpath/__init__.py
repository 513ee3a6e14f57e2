"""The compiled data path (issue 16): which data path a daemon runs, and the compiled module if it exists.

``_fast`` (``core.c`` + ``module.c``, built by setup.py where a C compiler, Python's headers and libcrypto's
exist) seals and opens data datagrams for established sessions: a whole frame's fragments in one call, a
whole GRO run of a frame in one call, the RFC 6479 replay window in C, the AEAD from OpenSSL's EVP. The
Python core stays the one authority on the protocol: it parses the header and finds the session, does
every check that needs its state (expiry, key confirmation, roaming, reassembly, the switch) and counts
every drop; the compiled path only replaces the per-datagram crypto loop and the window (proto/native/
keypair.py builds a session per keypair when ``NativeProtocol.fast`` is set).

Selection: ``tunnel.fastpath`` in the config, and the environment variable ``TAPLIANCE_FASTPATH`` (``1``/``0``),
which overrides it. Unset (the default, "auto"): the compiled path where it is built and its worker thread can
run (runtime/worker.py: a point-to-point peer over UDP), the Python path elsewhere (a hub, several peers, TCP,
legacy suites: there the compiled calls in the loop would cost latency, docs/performance.md). ``true``: the
compiled path wherever it is built, in the loop where no worker runs. ``false``: the pure-Python path, the
reference. Asked for (``true``) where the module could not be built, the daemon says so once and runs the
Python path; on auto it says so at info level.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from types import ModuleType

log = logging.getLogger("tapliance")
ENV = "TAPLIANCE_FASTPATH"
_ON = ("1", "on", "yes", "true")
_OFF = ("0", "off", "no", "false")

try:
    from tapliance.fastpath import _fast as _module

    fast: ModuleType | None = _module
    unavailable = ""
except ImportError as e:  # not built here (no compiler or headers when it was installed)
    fast = None
    unavailable = str(e)


def wanted(configured: bool | None, environ: Mapping[str, str] = os.environ) -> bool | None:
    """Whether the compiled path is asked for: ``TAPLIANCE_FASTPATH`` if set, else the config's value (None:
    auto). Raises ValueError for a value that is neither on nor off."""
    value = environ.get(ENV, "").strip().lower()
    if not value:
        return configured
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise ValueError(f"{ENV}={environ[ENV]!r}: use 1 (compiled data path) or 0 (Python)")


_warned: list[bool] = []


def module(asked: bool | None) -> ModuleType | None:
    """The compiled module if ``asked`` (True, or None: auto) and built; missing: a line in the log (once; a
    warning when it was asked for) and None."""
    if asked is False:
        return None
    if fast is None and not _warned:
        _warned.append(True)
        log.log(
            logging.WARNING if asked else logging.INFO,
            "fastpath: the compiled data path is not built here (%s): running the Python path",
            unavailable,
        )
    return fast
