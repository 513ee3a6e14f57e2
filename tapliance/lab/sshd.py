"""One sshd per lab box, so Ansible deploys to namespaces exactly as it deploys to machines.

Each box's sshd has its own config, host key, pid file and log under ``<lab>/hosts/<box>/sshd/``, listens
only on the box's management address, and accepts only the lab's own key (``<lab>/ssh/id_ed25519``).
The controller trusts exactly the host keys the lab generated (``<lab>/ssh/known_hosts``; strict checking).

Hostnames: namespaces share the UTS name with the host unless asked otherwise, so sshd is started as
``ip netns exec <ns> unshare --uts sh -c 'hostname <box>; exec sshd'``. The new UTS namespace is
inherited by every session and by what sessions start (the tapliance supervisor and daemon), so each box
answers ``hostname`` (and Ansible's facts) with its own name while the machine's name is untouched.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tapliance.lab import netns

SSHD = "/usr/sbin/sshd"

CONFIG = """\
# tapliance lab: sshd for box {name} (namespace {ns}); made by scripts/lab, removed by `scripts/lab down`
ListenAddress {addr}
Port 22
HostKey {dir}/ssh_host_ed25519_key
PidFile {dir}/sshd.pid
AuthorizedKeysFile {authorized_keys}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
MaxStartups 50
LogLevel INFO
"""


def lab_keys(ssh_dir: Path) -> Path:
    """The controller's key pair and the authorized_keys file every box accepts; returns the private key."""
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ssh_dir / "id_ed25519"
    if not key.exists():
        netns.sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tapliance-lab", "-f", str(key)])
    auth = ssh_dir / "authorized_keys"
    auth.write_text(key.with_suffix(".pub").read_text())
    auth.chmod(0o600)
    return key


def start(name: str, ns: str, addr: str, host_dir: Path, ssh_dir: Path) -> Path:
    """Start (or keep) sshd for one box; return its directory. Adds its host key to known_hosts."""
    d = host_dir / "sshd"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    hostkey = d / "ssh_host_ed25519_key"
    if not hostkey.exists():
        netns.sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@tapliance-lab", "-f", str(hostkey)])
    cfg = d / "sshd_config"
    cfg.write_text(CONFIG.format(name=name, ns=ns, addr=addr, dir=d, authorized_keys=ssh_dir / "authorized_keys"))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir (systemd makes it normally)
    netns.sh([SSHD, "-t", "-f", str(cfg)])
    if running(d) is None:
        netns.ns_exec(
            ns,
            [
                "unshare",
                "--uts",
                "--",
                "sh",
                "-c",
                'hostname "$1" && exec "$2" -f "$3" -E "$4"',
                "sh",
                name,
                SSHD,
                str(cfg),
                str(d / "sshd.log"),
            ],
        )
    _add_known_host(ssh_dir / "known_hosts", addr, hostkey.with_suffix(".pub").read_text().split()[:2])
    return d


def running(sshd_dir: Path) -> int | None:
    try:
        pid = int((sshd_dir / "sshd.pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def stop(sshd_dir: Path) -> None:
    pid = running(sshd_dir)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)


def _add_known_host(path: Path, addr: str, key: list[str]) -> None:
    lines = [ln for ln in (path.read_text().splitlines() if path.exists() else []) if not ln.startswith(f"{addr} ")]
    lines.append(f"{addr} {' '.join(key)}")
    path.write_text("\n".join(lines) + "\n")


def wait_ready(switch_ns: str, addr: str, key: Path, known_hosts: Path, timeout: float = 20) -> str:
    """Log in once from the controller's namespace; return the box's hostname as it reports it."""
    deadline = time.monotonic() + timeout
    while True:
        p = netns.ns_exec(
            switch_ns, ["ssh", *ssh_options(key, known_hosts), f"root@{addr}", "hostname"], check=False, timeout=15
        )
        if p.returncode == 0:
            return p.stdout.decode().strip()
        if time.monotonic() > deadline:
            raise netns.LabError(f"ssh root@{addr}: {p.stderr.decode(errors='replace').strip()}")
        time.sleep(0.2)


def ssh_options(key: Path, known_hosts: Path) -> list[str]:
    return [
        "-i",
        str(key),
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
        "-o",
        "LogLevel=ERROR",
    ]
