"""The otp pad on disk: the state file's durability across a simulated kill (no clean close), a clean
stop's exact offsets, the receive mark after a restart, burning on disk, and every bad pad or state
file refused with one line (check-config exit 2, nothing written); `tapliance pad generate`."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from tapliance import cli
from tapliance.compat.pads import FilePadStore, KeyFileError, state_path
from tapliance.control.client import render
from tapliance.padfile import PadFileError, generate, parse_size
from tapliance.proto.drops import Drop
from tapliance.suites.otp import RESERVE_CHUNK, Otp
from tapliance.suites.padstore import PadStoreError
from tests.unit.legacy_pair import LegacyNet
from tests.unit.pair import MAC_A, MAC_B, frame

SIZE = 8 << 20
H = SIZE // 2


@pytest.fixture
def pads(tmp_path: Path) -> tuple[Path, Path]:
    """The same pad at the client's and the server's end, mode 0600."""
    data = os.urandom(SIZE)
    out = []
    for side in ("client", "server"):
        p = tmp_path / side / "otp.pad"
        p.parent.mkdir()
        p.write_bytes(data)
        p.chmod(0o600)
        out.append(p)
    return out[0], out[1]


def end(pad: Path, server: bool, burn: bool = False) -> Otp:
    return Otp(FilePadStore(pad, server=server, burn=burn), server)


def kill(codec: Otp) -> None:
    """What kill -9 leaves: the files as they are (the descriptors close with the process)."""
    store = codec.store
    assert isinstance(store, FilePadStore)
    store.close_fds()


def sent_mark(pad: Path) -> int:
    (line,) = [ln for ln in state_path(pad).read_text().splitlines() if ln.startswith("send ")]
    return int(line.split()[1])


def offsets(datagrams: list[bytes]) -> list[tuple[int, int]]:
    return [(int.from_bytes(d[:8], "big"), int.from_bytes(d[:8], "big") + len(d) - 8) for d in datagrams]


def send(codec: Otp, n: int, size: int = 1400) -> list[bytes]:
    out = [codec.seal(os.urandom(size), 0.0) for _ in range(n)]
    assert all(isinstance(d, bytes) for d in out)
    return out  # type: ignore[return-value]


def test_a_new_pad_gets_its_state_file_at_start(pads: tuple[Path, Path]) -> None:
    client = end(pads[0], False)
    st = state_path(pads[0])
    assert st.read_text().splitlines() == [
        "tapliance otp state 1",
        f"pad_size {SIZE}",
        "side client",
        "send 16",
        "send_burned 16",
        f"receive {H + 16}",
        f"receive_burned {H + 16}",
    ]
    assert st.stat().st_mode & 0o777 == 0o600 and client.tx_next == 16
    assert sorted(p.name for p in pads[0].parent.iterdir()) == ["otp.pad", "otp.pad.state"]  # no temporary left


def test_after_a_kill_no_offset_of_the_first_run_is_used_again(pads: tuple[Path, Path]) -> None:
    first = end(pads[0], False)
    run1 = offsets(send(first, 1500))  # more than one reservation chunk
    kill(first)
    reserved1 = sent_mark(pads[0])  # run 1's last reservation, as the kill left it
    second = end(pads[0], False)
    run2 = offsets(send(second, 200))
    assert min(o for o, _ in run2) >= reserved1 >= max(e for _, e in run1)
    assert reserved1 - max(e for _, e in run1) <= RESERVE_CHUNK  # at most a chunk wasted
    assert sent_mark(pads[0]) >= max(e for _, e in run2)
    used = sorted(run1 + run2)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(used))  # no byte used twice


def test_a_clean_stop_wastes_nothing_and_keeps_the_replay_floor(pads: tuple[Path, Path]) -> None:
    client, server = end(pads[0], False), end(pads[1], True)
    ds = send(client, 50)
    assert all(isinstance(server.open(d, 0.0), bytes) for d in ds)
    next_offset = client.tx_next
    client.close()
    server.close()
    assert end(pads[0], False).tx_next == next_offset
    again = end(pads[1], True)
    assert {again.open(d, 0.0) for d in ds} == {Drop.LEGACY_REPLAY}  # nothing replays after a clean stop


def test_after_a_receiver_kill_replays_are_bounded_by_one_chunk(pads: tuple[Path, Path]) -> None:
    client, server = end(pads[0], False), end(pads[1], True)
    ds = send(client, 2000)  # about 2.8 MiB of the client's half
    assert all(isinstance(server.open(d, 0.0), bytes) for d in ds)
    kill(server)
    again = end(pads[1], True)
    replayed = [d for d in ds if isinstance(again.open(d, 0.0), bytes)]
    assert replayed, "the mark is written a chunk at a time: the last chunk can be replayed once"
    assert sum(len(d) - 8 for d in replayed) <= RESERVE_CHUNK
    assert {again.open(d, 0.0) for d in replayed} == {Drop.LEGACY_REPLAY}  # once


def test_burning_on_disk_and_the_rest_at_the_next_start(pads: tuple[Path, Path]) -> None:
    original = pads[0].read_bytes()
    client, server = end(pads[0], False, burn=True), end(pads[1], True, burn=True)
    ds = send(client, 10, size=100)
    for d in ds:
        server.open(d, 0.0)
    top = client.tx_next
    disk = pads[0].read_bytes()
    assert disk[16:top] == bytes(top - 16) and disk[top:] == original[top:] and disk[:16] == original[:16]
    kill(client)
    server.close()  # the server's copy: the received ranges burned at the clean stop
    disk = pads[1].read_bytes()
    assert disk[16:top] == bytes(top - 16) and disk[top:] == original[top:]
    again = end(pads[0], False, burn=True)  # the start burns what the killed run reserved and did not use
    disk = pads[0].read_bytes()
    assert disk[16 : again.tx_next] == bytes(again.tx_next - 16) and disk[again.tx_next :] == original[again.tx_next :]


def test_a_rolled_back_state_file_with_burning_stops_sending(pads: tuple[Path, Path]) -> None:
    client = end(pads[0], False, burn=True)
    saved = state_path(pads[0]).read_bytes()
    send(client, 5)
    client.close()
    state_path(pads[0]).write_bytes(saved)  # a restored backup
    assert end(pads[0], False, burn=True).seal(b"x" * 60, 0.0) is Drop.OTP_PAD_BURNED


def test_a_state_file_that_cannot_be_written_stops_sending(pads: tuple[Path, Path]) -> None:
    client = end(pads[0], False)
    st = state_path(pads[0])
    st.unlink()
    st.mkdir()  # os.replace onto a directory fails
    assert client.seal(b"x" * 60, 0.0) is Drop.OTP_STORE_ERROR
    assert "cannot write the otp state" in client.stop_reason and client.status()["state"] == "stopped: otp_store_error"
    with pytest.raises(PadStoreError):
        client.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe", "corrupt otp state file (not ASCII text)"),
        (b"", "corrupt otp state file (expected"),
        (b"tapliance otp state 1\npad_size 8388608\nside client\nsend 16\n", "corrupt otp state file (expected"),
        (b"tapliance otp state 2\n", "corrupt"),
        (b"tapliance otp state 1\npad_size 8388608\nside client\nsend x\nsend_burned 16\nreceive 4194320\n"
         b"receive_burned 4194320\n", "line 4: expected `send VALUE`"),
        (b"tapliance otp state 1\npad_size 8388608\nside server\nsend 4194320\nsend_burned 4194320\nreceive 16\n"
         b"receive_burned 16\n", "is the server end's, but this end is the client"),
        (b"tapliance otp state 1\npad_size 999\nside client\nsend 16\nsend_burned 16\nreceive 4194320\n"
         b"receive_burned 4194320\n", "for a pad of 999 bytes; this pad has 8388608"),
        (b"tapliance otp state 1\npad_size 8388608\nside client\nsend 8\nsend_burned 8\nreceive 4194320\n"
         b"receive_burned 4194320\n", "send offsets outside"),
        (b"tapliance otp state 1\npad_size 8388608\nside client\nsend 16\nsend_burned 16\nreceive 5\n"
         b"receive_burned 5\n", "receive offsets outside"),
    ],
)  # fmt: skip
def test_corrupt_state_files(pads: tuple[Path, Path], content: bytes, message: str) -> None:
    state_path(pads[0]).write_bytes(content)
    with pytest.raises(KeyFileError) as e:
        FilePadStore(pads[0], server=False, burn=False)
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)
    assert state_path(pads[0]).read_bytes() == content


def test_check_mode_reads_only(pads: tuple[Path, Path]) -> None:
    store = FilePadStore(pads[0], server=False, burn=True, write=False)
    store.close_fds()
    assert not state_path(pads[0]).exists() and not store.existed


# -- config and check-config: one line, exit 2, nothing written


def _config(tmp_path: Path, peer: str) -> Path:
    p = tmp_path / "t.toml"
    p.write_text(f'[[peer]]\nsuite = "otp"\nlisten = ":1"\n{peer}\n')
    return p


BAD = [
    ("pad", b"x" * 1000, 0o600, 'pad_file = "pad"\nserver = true', "otp pad of 1000 bytes is too small"),
    ("other", b"", 0o600, 'pad_file = "missing"\nserver = true', "missing: otp pad file does not exist"),
    ("pad", os.urandom(1 << 16), 0o644, 'pad_file = "pad"\nserver = true', "otp pad file has mode 0644, readable"),
    ("pad.state", b"tapliance otp state 1\n", 0o600, 'pad_file = "pad"\nserver = true', "corrupt otp state file"),
    ("pad", os.urandom(1 << 16), 0o600, 'pad_file = "pad"', "peer[0].server: missing: suite otp needs it (true at"),
    ("pad", os.urandom(1 << 16), 0o600, 'pad_file = "pad"\nserver = true\nallow_insecure = 1', "allow_insecure"),
    ("pad", os.urandom(1 << 16), 0o600, 'pad_file = "pad"\nserver = true\npad_warn = 101', "peer[0].pad_warn"),
]


@pytest.mark.parametrize(("name", "content", "mode", "peer", "message"), BAD, ids=[b[-1][:24] for b in BAD])
def test_bad_pads_and_states_in_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, mode: int, peer: str, message: str
) -> None:
    (tmp_path / "pad").write_bytes(os.urandom(1 << 16))
    (tmp_path / "pad").chmod(0o600)
    (tmp_path / name).write_bytes(content)
    (tmp_path / name).chmod(mode)
    path = _config(tmp_path, peer)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert cli.main(["check-config", "-c", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err, err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_check_config_explains_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pad").write_bytes(os.urandom(1 << 20))
    (tmp_path / "pad").chmod(0o600)
    path = _config(tmp_path, 'pad_file = "pad"\nserver = true\npad_burn = true')
    assert cli.main(["check-config", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert "interface tap0 mtu 1434" in out and "suite otp" in out and "INSECURE" not in out
    assert "this end (server, the second half) has 524272 bytes left to send, the far end 524272" in out
    assert "pad.state does not exist: a new pad (created at start)" in out and "pad_burn: used pad is" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pad", "t.toml"]


def test_status_shows_the_pad_both_ways(tmp_path: Path) -> None:
    net = LegacyNet(tmp_path, "otp")
    net.advance(1)
    net.send(net.a, frame(MAC_B, MAC_A, b"x" * 100))
    net.run()
    peer = net.b.node.status(net.now)["peers"][0]
    half = (1 << 20) // 2
    assert peer["pad_send_left"] == half - 16 and peer["pad_receive_left"] == half - 16 - 16 - 114
    assert peer["state"] == "up" and "pad: 511.98 KiB left to send, 511.86 KiB to receive" in render({"peers": [peer]})
    assert [e.level for e in net.b.node.events if getattr(e, "level", None)] == ["info"]


# -- tapliance pad generate


@pytest.mark.parametrize(
    ("text", "size"), [("65536", 65536), ("64K", 65536), ("64M", 64 << 20), ("1G", 1 << 30), ("2GiB", 2 << 30)]
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "1x", "-5", "1.5G", "100", "63K"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(PadFileError):
        parse_size(text)


def test_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pad = tmp_path / "new.pad"
    old = os.umask(0)
    try:
        assert cli.main(["pad", "generate", "--size", "1M", "-o", str(pad)]) == 0
    finally:
        os.umask(old)
    assert pad.stat().st_size == 1 << 20 and pad.stat().st_mode & 0o777 == 0o600
    assert len(set(pad.read_bytes()[:4096])) > 200  # random bytes, not a pattern
    first = pad.read_bytes()
    assert cli.main(["pad", "generate", "--size", "1M", "-o", str(pad)]) == 2  # never overwritten
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists; refusing to overwrite" in err
    assert pad.read_bytes() == first
    assert cli.main(["pad", "generate", "--size", "12", "-o", str(tmp_path / "x")]) == 2
    assert "at least 65536 bytes" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_a_failed_generate_leaves_nothing(tmp_path: Path) -> None:
    def failing(n: int) -> bytes:
        if failing.calls:  # type: ignore[attr-defined]
            raise OSError(28, "No space left on device")
        failing.calls += 1  # type: ignore[attr-defined]
        return os.urandom(n)

    failing.calls = 0  # type: ignore[attr-defined]
    with pytest.raises(PadFileError, match="No space left on device"):
        generate(tmp_path / "p", 4 << 20, random=failing)
    assert list(tmp_path.iterdir()) == []


def test_generate_help_says_where_the_strength_comes_from(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["pad", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "only as good as the randomness it came from" in out and "out of band" in out and "not twice" in out


def test_a_pad_in_use_is_refused(pads: tuple[Path, Path]) -> None:
    first = end(pads[0], False)
    with pytest.raises(KeyFileError, match="in use by another process"):
        end(pads[0], False)
    kill(first)  # the lock goes with the process
    end(pads[0], False)


def test_two_peers_on_one_pad_are_refused(tmp_path: Path) -> None:
    from tapliance import config as C

    path = tmp_path / "t.toml"
    peer = '[[peer]]\nsuite = "otp"\npad_file = "pad"\nserver = {s}\nlisten = ":{port}"\n'
    path.write_text(peer.format(s="true", port=1) + peer.format(s="false", port=2))
    with pytest.raises(C.ConfigError, match=r"peer\[1\].pad_file: also peer\[0\]'s pad: a pad serves one tunnel"):
        C.load(path)


def test_exhaustion_through_the_adapter_is_counted_logged_once_and_shown(tmp_path: Path) -> None:
    from tapliance.proto.events import PeerNotice

    net = LegacyNet(tmp_path, "otp")
    big = frame(MAC_B, MAC_A, b"z" * 1400)
    for _ in range(400):  # 512 KiB of the client's half, 1430 bytes a frame
        net.send(net.a, big)
        net.run()
    drops = net.a.node.drops
    assert drops.get("otp_pad_exhausted", 0) == 400 - len(net.b.tap) and len(net.b.tap) == (1 << 19) // 1430
    notices = [(e.level, e.message) for e in net.a.node.events if isinstance(e, PeerNotice)]
    assert [lvl for lvl, _ in notices] == ["info", "warning", "error"] and "pad exhausted" in notices[2][1]
    assert net.a.node.status(net.now)["peers"][0]["state"] == "pad exhausted"
    net.a.proto.close()  # the daemon's teardown: the exact next offset is written
    next_offset = 16 + len(net.b.tap) * 1430
    assert f"\nsend {next_offset}\n" in state_path(tmp_path / "pad").read_text()
