"""Hub mode with real daemons: one server, two clients; MAC learning and client-to-client relaying."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tapliance import keyfile
from tapliance.lab import netns
from tests.netns.tunnel import TAPLIANCE


def _key(d: Path, name: str) -> bytes:
    k = keyfile.generate_private()
    p = d / f"{name}.key"
    p.write_text(keyfile.encode(k) + "\n")
    p.chmod(0o600)
    return k


def _pub(k: bytes) -> str:
    return keyfile.encode(keyfile.public_from_private(k))


def test_hub_relays_between_clients(prefix: str, tmp_path: Path) -> None:
    hub, c1, c2 = (netns.add_ns(f"{prefix}{n}") for n in ("h", "c1", "c2"))
    netns.add_veth(hub, "to1", c1, "ul0", a_addr="10.241.1.1/24", b_addr="10.241.1.2/24")
    netns.add_veth(hub, "to2", c2, "ul0", a_addr="10.241.2.1/24", b_addr="10.241.2.2/24")
    keys = {n: _key(tmp_path, n) for n in ("h", "c1", "c2")}
    (tmp_path / "h.toml").write_text(
        '[interface]\nname = "tl0"\naddresses = ["10.242.0.1/24"]\n'
        f'[tunnel]\nlisten = ":9123"\nprivate_key_file = "h.key"\ncontrol_socket = "{tmp_path}/h.sock"\n'
        f'[[peer]]\nname = "c1"\npublic_key = "{_pub(keys["c1"])}"\n'
        f'[[peer]]\nname = "c2"\npublic_key = "{_pub(keys["c2"])}"\n'
    )
    for i, c in ((1, "c1"), (2, "c2")):
        (tmp_path / f"{c}.toml").write_text(
            f'[interface]\nname = "tl0"\naddresses = ["10.242.0.1{i}/24"]\n'
            f'[tunnel]\nlisten = ":9123"\nprivate_key_file = "{c}.key"\ncontrol_socket = "{tmp_path}/{c}.sock"\n'
            f'keepalive = 2\n[[peer]]\nname = "hub"\npublic_key = "{_pub(keys["h"])}"\n'
            f'endpoint = "10.241.{i}.1:9123"\n'
        )
    procs = []
    try:
        for ns, n in ((hub, "h"), (c1, "c1"), (c2, "c2")):
            log = open(tmp_path / f"{n}.log", "wb")  # noqa: SIM115
            procs.append(
                subprocess.Popen(
                    ["ip", "netns", "exec", ns, *TAPLIANCE, "up", "-c", str(tmp_path / f"{n}.toml")],
                    stdout=log,
                    stderr=log,
                )
            )
        deadline = time.monotonic() + 20
        while netns.ns_exec(c1, ["ping", "-c", "1", "-W", "1", "10.242.0.12"], check=False).returncode:
            assert time.monotonic() < deadline, (tmp_path / "h.log").read_text()[-2000:]
        assert netns.ns_exec(c2, ["ping", "-c", "3", "-i", "0.2", "10.242.0.11"], check=False).returncode == 0
        assert netns.ns_exec(c1, ["ping", "-c", "2", "-s", "5000", "10.242.0.1"], check=False).returncode == 0
        st = json.loads(netns.ns_exec(hub, [*TAPLIANCE, "status", "--json", "-s", str(tmp_path / "h.sock")]).stdout)
        assert st["hub"] is True and st["mac_table"] >= 3
        assert [p["state"] for p in st["peers"]] == ["up", "up"]
        # client-to-client unicast went hub -> other client without a copy to the hub's own TAP
        assert all(p["rx_frames"] > 0 and p["tx_frames"] > 0 for p in st["peers"])
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
