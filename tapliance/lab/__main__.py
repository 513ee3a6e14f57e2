"""``scripts/lab`` (= ``python -m tapliance.lab``): build, deploy, verify and remove a netns lab.

scripts/lab up l2-bridge        (or l3-nat, hub) build boxes, ansible-playbook site.yml, verify with real traffic
scripts/lab test l2-bridge      verify again (ping + TCP transfer with sha256 through the tunnel)
scripts/lab deploy l2-bridge [ANSIBLE-ARGS]   re-run site.yml (e.g. --check --diff)
scripts/lab status l2-bridge    namespaces, sshd, and each daemon's `tapliance status`
scripts/lab ssh l2-bridge site-b [CMD]        a shell (or command) on a box
scripts/lab down l2-bridge      remove everything the lab made
scripts/lab wheelhouse [DIR]    build the wheelhouse the role installs from (default build/wheelhouse)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from tapliance.lab import netns, topology, wheelhouse
from tapliance.lab.inventory import REPO
from tapliance.lab.lab import Lab, print_report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="scripts/lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("action", choices=("up", "test", "deploy", "status", "ssh", "down", "list", "wheelhouse"))
    p.add_argument("topology", nargs="?", help=f"one of: {', '.join(topology.names())}")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="deploy: ansible-playbook arguments; ssh: BOX [CMD]")
    p.add_argument("--prefix", help="name prefix for namespaces and the lab directory (default tlab-<topology>)")
    a = p.parse_args(argv)
    if a.action == "list":
        for n in topology.names():
            print(f"{n:<12} {topology.load(n).summary}")
        return 0
    if a.action == "wheelhouse":  # no root needed; the Vagrantfile's trigger runs this
        dest = Path(a.topology or REPO / "build" / "wheelhouse")
        wheels = wheelhouse.build(dest)
        print(f"wheelhouse {dest}: {', '.join(wheels)}")
        return 0
    if not a.topology:
        p.error(f"which topology? one of: {', '.join(topology.names())}")
    if os.geteuid() != 0:
        print(
            "scripts/lab: needs root (network namespaces, veths, sshd per box); run: sudo scripts/lab ...",
            file=sys.stderr,
        )
        return 2
    try:
        lab = Lab(a.topology, prefix=a.prefix)
    except topology.TopologyError as e:
        print(f"scripts/lab: {e}", file=sys.stderr)
        return 2
    try:
        return _run(lab, a.action, a.rest)
    except (netns.LabError, RuntimeError) as e:
        print(f"scripts/lab: {e}", file=sys.stderr)
        if a.action == "up" and lab.exists():
            print(
                f"scripts/lab: the lab is left up for inspection: scripts/lab status {lab.topo.name}; "
                f"scripts/lab ssh {lab.topo.name} <box>; remove it with: scripts/lab down {lab.topo.name}",
                file=sys.stderr,
            )
        return 1


def _run(lab: Lab, action: str, rest: list[str]) -> int:
    name = lab.topo.name
    if action == "down":
        lab.down()
        return 0
    if action == "status":
        return _status(lab)
    if action == "ssh":
        if not rest:
            raise netns.LabError(f"which box? one of: {', '.join(h.name for h in lab.topo.hosts)}")
        return subprocess.call(lab.ssh_argv(rest[0], *rest[1:]))
    if not lab.exists() and action != "up":
        raise netns.LabError(f"lab {lab.prefix} is not up: run scripts/lab up {name}")
    t0 = time.monotonic()
    if action == "up":
        lab.build()
        lab.build_wheelhouse()
        r = lab.deploy()
        if r.rc != 0:
            raise netns.LabError(f"ansible-playbook site.yml failed (exit {r.rc})")
    elif action == "deploy":
        return lab.deploy(*rest).rc
    report = lab.verify()
    print_report(report)
    box = [h.name for h in lab.topo.hosts if "tapliance" in h.groups][-1]  # site-b, or the last client
    print(
        f"scripts/lab: {name} {action} OK in {time.monotonic() - t0:.0f} s. Next: scripts/lab status {name} | "
        f"scripts/lab ssh {name} {box} | scripts/lab down {name}"
    )
    return 0


def _status(lab: Lab) -> int:
    left = lab.leftovers()
    if not left:
        print(f"lab {lab.prefix}: not up")
        return 3
    print(f"lab {lab.prefix} ({lab.dir}): namespaces {', '.join(n for n in left if not n.startswith('/'))}")
    for h in lab.topo.hosts:
        paths = lab.dir / "hosts" / h.name / "root"
        venv = paths / "opt/tapliance/venv/bin/tapliance"
        sock = paths / "run/tapliance"
        line = f"  {h.name:<9} mgmt {h.mgmt}"
        if venv.exists() and sock.exists():
            for s in sorted(sock.glob("*.sock")):
                r = netns.ns_exec(lab.names.host(h.name), [str(venv), "status", "-s", str(s)], check=False)
                line += "\n" + "\n".join("      " + x for x in (r.stdout or r.stderr).decode().splitlines())
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
