"""The netns lab: a topology table -> namespaces + sshd per box -> ``ansible-playbook site.yml`` -> real traffic.

Everything a lab makes is named from its prefix (default ``tlab-<topology>``) and lives in:

- namespaces ``<prefix>-sw`` (switches + controller) and ``<prefix>-<box>`` (see wiring.py),
- processes inside those namespaces only (sshd, the tapliance supervisor and daemon, ssh masters),
- files under ``$TAPLIANCE_LAB_ROOT/<prefix>/`` (default /var/lib/tapliance-lab): ssh keys, per-box sshd
  and private root, inventory, ansible.cfg, wheelhouse, reports.

``down`` removes exactly that: SIGTERM to every process in the lab's namespaces (the daemons undo
their host setup), SIGKILL what is left, delete the namespaces, delete the directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tapliance.lab import inventory, netns, sshd, wheelhouse, wiring
from tapliance.lab.topology import Topology, load

LAB_ROOT = Path(os.environ.get("TAPLIANCE_LAB_ROOT", "/var/lib/tapliance-lab"))
RECAP_RE = re.compile(
    r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
    r"\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)"
)


@dataclass
class RunResult:
    rc: int
    output: str
    seconds: float

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        """PLAY RECAP as {host: {ok, changed, unreachable, failed, skipped, rescued, ignored}}."""
        keys = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
        out = {}
        for line in _strip_ansi(self.output).splitlines():
            m = RECAP_RE.match(line.strip())
            if m:
                out[m.group(1)] = dict(zip(keys, map(int, m.groups()[1:]), strict=True))
        return out

    @property
    def recap_lines(self) -> list[str]:
        text = _strip_ansi(self.output)
        return [ln.rstrip() for ln in text.splitlines() if RECAP_RE.match(ln.strip())]


def _strip_ansi(s: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", s)


class Lab:
    def __init__(
        self, topology: str | Topology, prefix: str | None = None, root: Path | None = None, echo: bool = True
    ) -> None:
        self.topo = topology if isinstance(topology, Topology) else load(topology)
        self.prefix = prefix or f"tlab-{self.topo.name}"
        self.dir = (root or LAB_ROOT) / self.prefix
        self.names = wiring.Names(self.prefix)
        self.echo = echo

    # -- paths ---------------------------------------------------------------------------------------------
    @property
    def ssh_dir(self) -> Path:
        return self.dir / "ssh"

    @property
    def key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    @property
    def wheelhouse(self) -> Path:
        return self.dir / "wheelhouse"

    def host_dir(self, host: str) -> Path:
        return self.dir / "hosts" / host

    def inventory_vars(self, host: str) -> dict[str, str]:
        """The per-box variables the generated inventory gives ``host`` (its private paths)."""
        return inventory.host_paths(self.dir, host)

    def say(self, msg: str) -> None:
        if self.echo:
            print(msg, flush=True)

    # -- lifecycle -----------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return wiring.exists(self.topo, self.names) and all(
            sshd.running(self.host_dir(h.name) / "sshd") for h in self.topo.hosts
        )

    def leftovers(self) -> list[str]:
        """What of this lab is on the machine (namespaces, directory); empty after ``down``."""
        found = netns.list_ns(f"{self.prefix}-")
        if self.dir.exists():
            found.append(str(self.dir))
        return found

    def build(self) -> None:
        """Namespaces, switches, sshd per box, inventory. Safe to call again: a complete lab is kept."""
        if self.exists():
            self.say(f"==> lab {self.prefix} is already up: keeping its namespaces and sshd")
        else:
            if self.leftovers():
                self.say(f"==> removing an incomplete earlier lab {self.prefix}")
                self.down(quiet=True)
            self.say(f"==> building {self.topo.name}: {self.topo.summary}")
            for line in self.topo.diagram:
                self.say(f"      {line}")
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
                (self.dir / "tmp").mkdir(exist_ok=True)
                wiring.build(self.topo, self.names, log=self.say)
                sshd.lab_keys(self.ssh_dir)
                self.known_hosts.write_text("")
                for h in self.topo.hosts:
                    d = sshd.start(h.name, self.names.host(h.name), h.mgmt, self.host_dir(h.name), self.ssh_dir)
                    name = sshd.wait_ready(self.names.switch, h.mgmt, self.key, self.known_hosts)
                    self.say(
                        f"  sshd for {h.name:<9} on {h.mgmt}:22 (config {d}/sshd_config), "
                        f"`hostname` there says {name!r}"
                    )
            except BaseException:
                self.down(quiet=True)
                raise
        inventory.write(self.topo, self.dir, self.key, self.known_hosts, self.wheelhouse)
        inventory.write_cfg(self.dir)
        self.say(f"  inventory {self.dir / 'inventory.json'} + playbooks/inventories/{self.topo.name}/")

    def build_wheelhouse(self) -> list[str]:
        t0 = time.monotonic()
        wheels = wheelhouse.build(self.wheelhouse)
        self.say(
            f"==> wheelhouse {self.wheelhouse}: {len(wheels)} wheels in {time.monotonic() - t0:.1f} s "
            f"(the role installs from it with pip --no-index)"
        )
        return wheels

    def ansible(self, playbook: str, *extra: str, env_extra: dict[str, str] | None = None) -> RunResult:
        """ansible-playbook ``playbook`` (in playbooks/, or an absolute path) against this lab."""
        argv, env = inventory.playbook_command(self.topo, self.dir, playbook, *extra)
        env.update(env_extra or {})
        self.say(
            f"==> ansible-playbook {playbook} {' '.join(extra)}".rstrip() + f"  (from namespace {self.names.switch})"
        )
        t0 = time.monotonic()
        p = subprocess.Popen(
            ["ip", "netns", "exec", self.names.switch, *argv],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=inventory.REPO,
        )
        out = []
        assert p.stdout is not None
        for line in p.stdout:
            out.append(line)
            if self.echo:
                print(line, end="", flush=True)
        rc = p.wait()
        r = RunResult(rc, "".join(out), time.monotonic() - t0)
        self.say(f"==> ansible-playbook {playbook}: exit {rc} in {r.seconds:.0f} s")
        return r

    def deploy(self, *extra: str) -> RunResult:
        return self.ansible("site.yml", *extra)

    def verify(self) -> dict[str, object]:
        report = self.dir / "verify.json"
        report.unlink(missing_ok=True)
        r = self.ansible("verify.yml", "-e", f"verify_report={report}")
        if r.rc != 0 or not report.exists():
            raise netns.LabError(f"verification of {self.topo.name} failed (ansible-playbook exit {r.rc})")
        data: dict[str, object] = json.loads(report.read_text())
        return data

    def down(self, quiet: bool = False) -> list[str]:
        """Remove everything this lab made; return what was removed."""
        if not quiet:
            self.say(f"==> removing lab {self.prefix}")
        spaces = netns.list_ns(f"{self.prefix}-")
        _terminate(spaces)
        removed = netns.cleanup(f"{self.prefix}-")
        _kill_strays(self.dir)
        if self.dir.exists():
            shutil.rmtree(self.dir)
            removed.append(str(self.dir))
        with_root = self.dir.parent
        if with_root.exists() and not any(with_root.iterdir()):
            with_root.rmdir()
        if not quiet:
            self.say(f"  removed: {', '.join(removed) or 'nothing (no such lab)'}")
        return removed

    def ssh_argv(self, host: str, *cmd: str) -> list[str]:
        h = self.topo.host(host)
        return [
            "ip",
            "netns",
            "exec",
            self.names.switch,
            "ssh",
            *sshd.ssh_options(self.key, self.known_hosts),
            "-t" if not cmd else "-T",
            f"root@{h.mgmt}",
            *cmd,
        ]


def _terminate(spaces: list[str], timeout: float = 10) -> None:
    """SIGTERM every process in ``spaces`` (daemons tear down their host setup), wait a little."""

    def pids() -> list[int]:
        out: list[int] = []
        for ns in spaces:
            out += [int(x) for x in netns.sh(["ip", "netns", "pids", ns], check=False).stdout.split()]
        return out

    for pid in pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)
    deadline = time.monotonic() + timeout
    while pids() and time.monotonic() < deadline:
        time.sleep(0.2)


def _kill_strays(lab_dir: Path) -> None:
    """Kill processes that still name a file of this lab, e.g. whose namespace was deleted under them
    (``ip netns pids`` cannot find a process in an unnamed namespace)."""
    mark = f"{lab_dir}/".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if mark in (proc / "cmdline").read_bytes():
                os.kill(int(proc.name), 9)
        except (OSError, ValueError):
            continue


def print_report(report: dict[str, object], say: Callable[[str], None] = print) -> None:
    say("")
    say("=" * 78)
    proof = report.get("proof", [])
    for line in proof if isinstance(proof, list) else [proof]:
        say(f"  {line}")
    say("=" * 78)
