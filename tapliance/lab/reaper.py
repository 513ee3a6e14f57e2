"""Run daemons as children of a child subreaper that reaps every orphan they leave (scripts/vagrant-lab).

    python -m tapliance.lab.reaper virtlogd libvirtd

libvirtd double-forks QEMU and dnsmasq, so they are re-parented to the nearest subreaper, or PID 1. Where
PID 1 is not an init that reaps orphans (containers, sandboxes), every exited QEMU stays a zombie and
libvirt's "is it gone yet" loop waits 15-30 s on it at each probe, start and destroy. Marked a child
subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``), this process gets those orphans and reaps them. SIGTERM or
SIGINT stops the daemons (in reverse order); when they have all exited, it reaps what is left and exits.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def run(commands: list[str]) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    daemons = [subprocess.Popen([c]) for c in commands]

    def stop(*_: object) -> None:
        for p in reversed(daemons):
            if p.poll() is None:
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        try:
            os.wait()  # any child: the daemons and the orphans re-parented here
        except ChildProcessError:
            return
        except InterruptedError:
            continue
        if all(p.poll() is not None for p in daemons):
            stop()
            deadline = time.monotonic() + 10  # reap what is left, briefly
            while time.monotonic() < deadline:
                try:
                    if os.waitpid(-1, os.WNOHANG) == (0, 0):
                        time.sleep(0.2)
                except ChildProcessError:
                    return
            return


if __name__ == "__main__":
    run(sys.argv[1:])
