"""The otp suite between two real `tapliance up` daemons in namespaces, through a UDP relay this test
controls, which records every datagram's pad offset: ping and a sha256-checked 16 MiB transfer; kill -9
of each end mid-traffic and a restart never send a pad range again; a small pad stops cleanly."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns.transfer import transfer as checked
from tests.netns.tunnel import OVERLAY, TAPLIANCE, UNDERLAY, TunnelLab

PORT, RELAY_PORT = 9123, 9200
RELAY = f"""
import socket, sys
a, b = ("{UNDERLAY["a"]}", {PORT}), ("{UNDERLAY["b"]}", {PORT})
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 1 << 25)  # SO_RCVBUFFORCE: lose nothing while the test reads
s.bind(("{UNDERLAY["a"]}", {RELAY_PORT}))
log = open(sys.argv[1], "w", buffering=1)
print("relaying", flush=True)
while True:
    try:
        d, src = s.recvfrom(65535)
        if src in (a, b):
            log.write(f"{{'a' if src == a else 'b'}} {{int.from_bytes(d[:8], 'big')}} {{len(d)}}\\n")
            s.sendto(d, b if src == a else a)
    except OSError:  # ICMP port unreachable while an end is down
        pass
"""


def _config(lab: TunnelLab, n: str, pad: Path) -> None:
    s = lab.sides[n]
    endpoint = f'endpoint = "{UNDERLAY["a"]}:{RELAY_PORT}"\n' if n == "a" else ""  # b learns the relay
    s.config.write_text(
        f'[interface]\nname = "tl0"\naddresses = ["{OVERLAY[n]}/24"]\n\n'
        f'[tunnel]\ncontrol_socket = "{s.sock}"\n\n'
        f'[[peer]]\nname = "{"b" if n == "a" else "a"}"\nsuite = "otp"\npad_file = "{pad}"\n'
        f'server = {"true" if n == "b" else "false"}\nlisten = "{UNDERLAY[n]}:{PORT}"\n{endpoint}pad_warn = 20\n\n'
        '[log]\nlevel = "info"\n'
    )


@pytest.fixture
def otp_lab(lab: TunnelLab, request: pytest.FixtureRequest) -> Iterator[tuple[TunnelLab, Path]]:
    """Both ends configured for otp on copies of one new pad (its size the parameter), no IPv6 chatter,
    and the relay running in a's namespace; yields the lab and the relay's log."""
    size = request.param
    pads = {n: lab.dir / f"{n}.pad" for n in ("a", "b")}
    subprocess.run([*TAPLIANCE, "pad", "generate", "--size", size, "-o", str(pads["a"])], check=True)
    pads["b"].write_bytes(pads["a"].read_bytes())  # "out of band"
    pads["b"].chmod(0o600)
    for n in ("a", "b"):
        _config(lab, n, pads[n])
        for conf in ("all", "default"):
            lab.sh(n, ["sysctl", "-qw", f"net.ipv6.conf.{conf}.disable_ipv6=1"])
    log = lab.dir / "relay.log"
    relay = subprocess.Popen(
        ["ip", "netns", "exec", lab.sides["a"].ns, sys.executable, "-c", RELAY, str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert relay.stdout is not None and relay.stdout.readline().strip() == "relaying"
        yield lab, log
    finally:
        relay.kill()
        relay.wait()


def ranges(log: Path, who: str) -> list[tuple[int, int]]:
    """The pad ranges [o, o + 16 + L) of the datagrams ``who`` sent, in the order the relay saw them."""
    out = []
    for line in log.read_text().splitlines():
        w, o, n = line.split()
        if w == who:
            out.append((int(o), int(o) + int(n) - 8))
    return out


def assert_disjoint(rs: list[tuple[int, int]]) -> None:
    s = sorted(rs)
    clash = [(x, y) for x, y in itertools.pairwise(s) if x[1] > y[0]]
    assert not clash, f"pad ranges used twice: {clash[:3]}"


def peer(lab: TunnelLab, n: str) -> dict[str, object]:
    return lab.status(n)["peers"][0]  # type: ignore[index,no-any-return]


def transfer(lab: TunnelLab, nbytes: int) -> None:
    checked(lab.sides["a"].ns, lab.sides["b"].ns, OVERLAY["b"], nbytes, timeout=180)


def kill9_mid_traffic(lab: TunnelLab, victim: str) -> None:
    """Pings both ways at 100/s, and kill -9 of ``victim`` in the middle of them; then a restart."""
    flows = [
        subprocess.Popen(
            ["ip", "netns", "exec", lab.sides[n].ns, "ping", "-q", "-i", "0.01", "-c", "300", "-s", "1200", ip],
            stdout=subprocess.DEVNULL,
        )
        for n, ip in (("a", OVERLAY["b"]), ("b", OVERLAY["a"]))
    ]
    time.sleep(1.5)
    lab.stop(victim, signal.SIGKILL)
    for f in flows:
        f.wait(timeout=30)
    lab.start(victim)
    lab.ping("a", OVERLAY["b"], count=3)  # whether or not it gets through: the offsets are checked first
    lab.ping("b", OVERLAY["a"], count=3)


@pytest.mark.parametrize("otp_lab", ["96M"], indirect=True)
def test_ping_transfer_and_kill9_never_reuse_pad(otp_lab: tuple[TunnelLab, Path]) -> None:
    lab, log = otp_lab
    lab.start("a")
    lab.start("b")
    lab.wait_ping("a", OVERLAY["b"])
    assert lab.ping("b", OVERLAY["a"], count=3)
    transfer(lab, 16 << 20)
    st = peer(lab, "a")
    assert st["state"] == "up" and st["tx_bytes"] > 16 << 20  # type: ignore[operator]
    assert st["pad_send_left"] < (48 << 20) - (16 << 20) < st["pad_receive_left"]  # type: ignore[operator]
    for victim in ("a", "b"):
        before = {n: ranges(log, n) for n in ("a", "b")}
        kill9_mid_traffic(lab, victim)
        after = {n: ranges(log, n)[len(before[n]) :] for n in ("a", "b")}
        assert before[victim] and after[victim]
        first_run_end = max(e for _, e in before[victim])
        assert min(o for o, _ in after[victim]) >= first_run_end, f"{victim} restarted below its earlier offsets"
        lab.wait_ping("a", OVERLAY["b"])
        assert lab.ping("b", OVERLAY["a"], count=3)
    for n in ("a", "b"):
        assert_disjoint(ranges(log, n))  # over both restarts: no pad byte sent twice by either end
    assert peer(lab, "b")["state"] == "up"
    for s in lab.sides.values():
        assert "Traceback" not in s.log.read_text()


@pytest.mark.parametrize("otp_lab", ["64K"], indirect=True)
def test_a_small_pad_stops_cleanly(otp_lab: tuple[TunnelLab, Path]) -> None:
    lab, log = otp_lab
    lab.start("a")
    lab.start("b")
    lab.wait_ping("a", OVERLAY["b"])
    lab.sh("a", ["ping", "-q", "-i", "0.02", "-c", "60", "-s", "1000", OVERLAY["b"]], check=False)  # > 32 KiB
    assert not lab.ping("a", OVERLAY["b"], count=2)
    st = peer(lab, "a")
    drops: dict[str, int] = lab.status("a")["drops"]  # type: ignore[assignment]
    assert st["state"] == "pad exhausted" and drops.get("otp_pad_exhausted", 0) > 0
    assert st["pad_send_left"] < 16 + 1042  # less than a 1000-byte ping's frame needs  # type: ignore[operator]
    assert lab.sides["a"].proc is not None and lab.sides["a"].proc.poll() is None  # still running
    sent = ranges(log, "a")
    assert [o for o, _ in sent] == sorted(o for o, _ in sent) and max(e for _, e in sent) <= 1 << 15  # no wrap
    assert_disjoint(sent)
    text = lab.sides["a"].log.read_text()
    assert text.count("pad exhausted") == 1 and "pad low" in text and "Traceback" not in text
    assert "pad: " in lab.sh("a", [*TAPLIANCE, "status", "-s", str(lab.sides["a"].sock)]).stdout.decode()
    assert lab.stop("a") == 0  # a clean stop after exhaustion
