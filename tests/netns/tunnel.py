"""Test double for the root tier: two namespaces on a veth underlay, each running a real
``tapliance up`` daemon, with helpers to wait, run commands and read status.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tapliance import keyfile
from tapliance.lab import netns

TAPLIANCE = [sys.executable, "-m", "tapliance.cli"]
UNDERLAY = {"a": "10.231.0.1", "b": "10.231.0.2"}
OVERLAY = {"a": "10.232.0.1", "b": "10.232.0.2"}
PORT = 9123


@dataclass
class Side:
    name: str
    ns: str
    dir: Path
    key: bytes
    proc: subprocess.Popen[bytes] | None = None
    extra: str = ""  # extra TOML appended to the config
    peer_line: str = ""

    @property
    def public(self) -> str:
        return keyfile.encode(keyfile.public_from_private(self.key))

    @property
    def config(self) -> Path:
        return self.dir / f"{self.name}.toml"

    @property
    def sock(self) -> Path:
        return self.dir / f"{self.name}.sock"

    @property
    def log(self) -> Path:
        return self.dir / f"{self.name}.log"


@dataclass
class TunnelLab:
    prefix: str
    dir: Path
    sides: dict[str, Side] = field(default_factory=dict)

    @classmethod
    def build(cls, prefix: str, tmp: Path, *, mtu: int = 1500) -> TunnelLab:
        lab = cls(prefix, tmp)
        for n in ("a", "b"):
            ns = netns.add_ns(f"{prefix}{n}")
            lab.sides[n] = Side(n, ns, tmp, keyfile.generate_private())
        netns.add_veth(
            lab.sides["a"].ns,
            "ul0",
            lab.sides["b"].ns,
            "ul0",
            a_addr=f"{UNDERLAY['a']}/24",
            b_addr=f"{UNDERLAY['b']}/24",
            mtu=mtu,
        )
        for s in lab.sides.values():
            kf = tmp / f"{s.name}.key"
            kf.write_text(keyfile.encode(s.key) + "\n")
            kf.chmod(0o600)
        return lab

    def write_config(
        self,
        n: str,
        *,
        peer_key: str | None = None,
        endpoint: bool | None = None,
        extra: str = "",
        tunnel_extra: str = "",
        iface_extra: str = "",
    ) -> Path:
        s = self.sides[n]
        other = self.sides["b" if n == "a" else "a"]
        if endpoint is None:
            endpoint = n == "a"  # a knows b's address; b discovers a
        ep = f'endpoint = "{UNDERLAY[other.name]}:{PORT}"\n' if endpoint else ""
        s.config.write_text(
            f'[interface]\nname = "tl0"\naddresses = ["{OVERLAY[n]}/24"]\n{iface_extra}\n'
            f'[tunnel]\nlisten = "{UNDERLAY[n]}:{PORT}"\nprivate_key_file = "{s.name}.key"\n'
            f'control_socket = "{s.sock}"\nkeepalive = 2\n{tunnel_extra}\n'
            f'[[peer]]\nname = "{other.name}"\npublic_key = "{peer_key or other.public}"\n{ep}\n{extra}\n'
            f'[log]\nlevel = "debug"\n'
        )
        return s.config

    def start(self, n: str, wait: bool = True, env: dict[str, str] | None = None) -> Side:
        s = self.sides[n]
        if not s.config.exists():
            self.write_config(n)
        log = open(s.log, "ab")  # noqa: SIM115 - owned by the daemon process for its lifetime
        s.proc = subprocess.Popen(
            ["ip", "netns", "exec", s.ns, *TAPLIANCE, "up", "-c", str(s.config)],
            stdout=log,
            stderr=log,
            env={**os.environ, **env} if env else None,
        )
        log.close()
        if wait:
            deadline = time.monotonic() + 10
            while not s.sock.exists():
                if s.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"daemon {n} did not start: {s.log.read_text()[-2000:]}")
                time.sleep(0.05)
        return s

    def stop(self, n: str, sig: int = signal.SIGTERM) -> int:
        s = self.sides[n]
        assert s.proc is not None
        s.proc.send_signal(sig)
        rc = s.proc.wait(timeout=10)
        s.proc = None
        return rc

    def status(self, n: str) -> dict[str, object]:
        r = self.sh(n, [*TAPLIANCE, "status", "--json", "-s", str(self.sides[n].sock)])
        return json.loads(r.stdout)  # type: ignore[no-any-return]

    def sh(
        self, n: str, args: list[str], check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[bytes]:
        return netns.ns_exec(self.sides[n].ns, args, check=check, timeout=timeout)

    def ping(self, src: str, dst_ip: str, count: int = 3, size: int = 56) -> bool:
        r = self.sh(src, ["ping", "-c", str(count), "-i", "0.2", "-W", "1", "-s", str(size), dst_ip], check=False)
        return r.returncode == 0

    def wait_ping(self, src: str, dst_ip: str, timeout: float = 30) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.ping(src, dst_ip, count=1):
                return time.monotonic() - t0
        raise AssertionError(
            f"{dst_ip} not reachable from {src} within {timeout} s; logs:\n"
            + "\n".join(s.log.read_text()[-1500:] for s in self.sides.values() if s.log.exists())
        )

    def stop_all(self) -> None:
        for n, s in self.sides.items():
            if s.proc is not None and s.proc.poll() is None:
                self.stop(n)
