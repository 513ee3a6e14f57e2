"""The Vagrant lab end to end: real VMs (vagrant-libvirt, QEMU), site.yml, verify.yml, changed=0, teardown.

Slow (about 8-15 minutes per topology without KVM, more for the 8 VMs of ``hub``), so it runs only for the
topologies named in TAPLIANCE_VAGRANT_LAB, e.g. ``l2-bridge`` (what scripts/test, and so CI, sets unless told
otherwise), ``l2-bridge,l3-nat``, ``hub`` or ``none``.
It runs ``scripts/vagrant-lab run <topology>`` (up, test, down; down also on failure), checks the proof it
prints, that the hosts in TAPLIANCE_DEB_HOSTS (vagrant-lab's default: the first tunnel host, site-a or hub-site)
ran the Debian package's template unit and the others the role's venv unit, and that the host's nftables
ruleset, links and network sysctls are afterwards what they were before (tapliance/lab/hoststate.py). Needs root.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tapliance.lab import hoststate
from tapliance.lab.topology import load

REPO = Path(__file__).resolve().parents[2]
SELECTED = {t.strip() for t in os.environ.get("TAPLIANCE_VAGRANT_LAB", "").split(",") if t.strip()}

pytestmark = pytest.mark.slow


def proof(out: str) -> list[str]:
    """The lines worth keeping in the CI log: both PLAY RECAPs, verify.yml's traffic proof (between two rules of
    '='), the phase timings and the verdict."""
    keep: list[str] = []
    in_proof = in_timings = in_recap = False
    for line in (raw.rstrip() for raw in out.splitlines()):
        is_recap = re.match(r"^\S+\s+:\s+ok=\d+", line) is not None
        in_recap = in_recap and is_recap
        if line.startswith("====="):
            in_proof = not in_proof
            keep.append(line)
        elif line.startswith("----- phase timings"):
            in_timings = True
            keep.append(line)
        elif line.startswith(("--- first run PLAY RECAP", "--- second run PLAY RECAP")):
            in_recap = True
            keep.append(line)
        elif in_proof or in_timings or in_recap or line.startswith("vagrant-lab "):
            keep.append(line)
    return keep


def test_proof_keeps_recaps_traffic_proof_and_timings() -> None:
    out = (
        "==> site-a: booting\n    site-a: noise\n"
        "site-a                     : ok=25   changed=10   unreachable=0    failed=0\n"  # vagrant's own echo
        "--- first run PLAY RECAP ---\n"
        "site-a                     : ok=25   changed=10   unreachable=0    failed=0\n"
        "TASK [x] ****\n"
        + "=" * 78
        + "\n  ping site-b -> lan-host: 0% packet loss\n  sha256 ... (match)\n"
        + "=" * 78
        + "\n"
        "==> vagrant provision\n--- second run PLAY RECAP ---\n"
        "site-a                     : ok=21   changed=0    unreachable=0    failed=0\n"
        "----- phase timings (l2-bridge, driver qemu) -----\nvagrant up + first provision   406 s\n"
        "total                                600 s\nvagrant-lab l2-bridge: PASSED\n"
    )
    assert proof(out) == [
        "--- first run PLAY RECAP ---",
        "site-a                     : ok=25   changed=10   unreachable=0    failed=0",
        "=" * 78,
        "  ping site-b -> lan-host: 0% packet loss",
        "  sha256 ... (match)",
        "=" * 78,
        "--- second run PLAY RECAP ---",
        "site-a                     : ok=21   changed=0    unreachable=0    failed=0",
        "----- phase timings (l2-bridge, driver qemu) -----",
        "vagrant up + first provision   406 s",
        "total                                600 s",
        "vagrant-lab l2-bridge: PASSED",
    ]


@pytest.mark.parametrize("topology", ["l2-bridge", "l3-nat", "hub"])
def test_vagrant_lab_run(topology: str, capsys: pytest.CaptureFixture[str]) -> None:
    if topology not in SELECTED:
        pytest.skip(f"set TAPLIANCE_VAGRANT_LAB={topology} to boot it as VMs (10 minutes or more without KVM)")
    if os.geteuid() != 0:
        pytest.skip("needs root (libvirtd, libvirt networks)")
    before = hoststate.snapshot()
    r = subprocess.run(
        [str(REPO / "scripts" / "vagrant-lab"), "run", topology],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=45 * 60,
        check=False,
    )
    print(r.stdout[-20000:])
    with capsys.disabled():
        print(f"\n{topology} as VMs (scripts/vagrant-lab run {topology}):\n  " + "\n  ".join(proof(r.stdout)))
    changed = hoststate.differences(before, hoststate.snapshot())
    assert r.returncode == 0, f"scripts/vagrant-lab run {topology} failed (exit {r.returncode})"
    assert changed == [], f"the lab left the host changed: {changed}"
    out = r.stdout
    tunnel_hosts = [h.name for h in load(topology).hosts if "tapliance" in h.groups]
    deb_hosts = os.environ.get("TAPLIANCE_DEB_HOSTS", tunnel_hosts[0]).split(",")  # vagrant-lab's default
    for host in tunnel_hosts:
        unit = "tapliance@tapliance" if host in deb_hosts else "tapliance"
        head = rf"^{host} \| CHANGED \| rc=0 >>\n(tapliance\s\S+\n)?"
        unit_line = rf"{head}{unit}: active enabled .*daemon runs as tapliance "
        assert re.search(unit_line, out, re.M), f"{host}: {unit} not active, or its daemon not the tapliance user"
        removed = rf"^{host} \| CHANGED \| rc=0 >>\napt-get remove tapliance: tunnel stopped, unit and program gone"
        assert (re.search(removed, out, re.M) is not None) == (host in deb_hosts), host
    assert f"vagrant-lab {topology}: PASSED" in out
    assert "(match)" in out, "verify.yml printed no matching sha256 proof"
    second = out.split("--- second run PLAY RECAP ---", 1)[1]
    recap = re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", second, re.M)
    assert set(tunnel_hosts) <= {h for h, *_ in recap}
    assert all(c == u == f == "0" for _, c, u, f in recap), recap
