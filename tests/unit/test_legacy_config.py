"""Legacy peers in the config and in check-config: every mistake is one line naming file and key, exit 2,
and nothing is written (a tinytaptunnel key file is not created, a tappet nonce file not incremented)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapliance import cli
from tapliance import config as C

HEX = "11" * 32
NATIVE_PK = "N0z7ov3faNe5UDfG10fKu+Qy8Lk0lrqGTDdFnxt3sGg="

BAD = [
    (
        'suite = "tinytaptunnel"\nkey_file = "k"\nlisten = ":1"',
        "peer[0].allow_insecure: suite tinytaptunnel is insecure",
    ),
    ('suite = "quicktun-nacl0"\npublic_key = "' + HEX + '"\nlisten = ":1"', "allow_insecure: suite quicktun-nacl0"),
    ('suite = "otptunnel"\npad_file = "p"\nlisten = ":1"', "peer[0].allow_insecure: suite otptunnel is insecure"),
    ('suite = "quicktun-raw"\nlisten = ":1"', "allow_insecure: suite quicktun-raw is insecure (no encryption"),
    ('suite = "quicktun-nacltai"\nlisten = ":1"', "peer[0].public_key: missing: suite quicktun-nacltai needs it"),
    ('suite = "tappet"\nlisten = ":1"\nserver = true', "peer[0].private_key_file: missing: suite tappet needs it"),
    (
        'suite = "tappet"\nprivate_key_file = "k"\nnonce_file = "n"\nendpoint = "192.0.2.1:1"',
        "peer[0].public_key: missing: suite tappet needs it (the peer's key from `tapliance pubkey` (or its ",
    ),
    (
        'suite = "tappet"\nprivate_key_file = "k"\nnonce_file = "n"\npublic_key = "' + HEX + '"\nserver = true',
        "peer[0].listen: a tappet server needs the address to listen on",
    ),
    ('suite = "quicktun-nacltai"\npublic_key = "' + HEX + '"', "peer[0].listen: a quicktun-nacltai peer needs its own"),
    ('suite = "rot13"', "peer[0].suite: must be one of native, tinytaptunnel"),
    (
        f'public_key = "{NATIVE_PK}"\npad_file = "p"',
        "peer[0].pad_file: not used by suite native (only by otptunnel, otp)",
    ),
    (
        'suite = "quicktun-nacltai"\npublic_key = "' + HEX + '"\nlisten = ":1"\nkeepalive = 5',
        "peer[0].keepalive: not used by suite quicktun-nacltai (only by native)",
    ),
    ('suite = "quicktun-nacltai"\npublic_key = "zz' + HEX[2:] + '"\nlisten = ":1"', "peer[0].public_key: not a base64"),
    (
        'suite = "quicktun-nacltai"\npublic_key = "'
        + HEX
        + '"\nlisten = ":9123"\n[[peer]]\npublic_key = "'
        + NATIVE_PK
        + '"',
        "peer[0].listen: 0.0.0.0:9123 is also tunnel.listen's port",
    ),
    (
        'suite = "quicktun-nacltai"\npublic_key = "' + HEX + '"\nlisten = ":7"\n[[peer]]\nsuite = "quicktun-nacltai"\n'
        'public_key = "' + HEX + '"\nlisten = "192.0.2.1:7"',
        "peer[1].listen: 192.0.2.1:7 is also peer[0].listen's port",
    ),
]


def _write(tmp_path: Path, peer: str) -> Path:
    p = tmp_path / "t.toml"
    p.write_text(f"[[peer]]\n{peer}\n")
    return p


@pytest.mark.parametrize(("peer", "message"), BAD, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(BAD)])
def test_bad_legacy_peers(tmp_path: Path, capsys: pytest.CaptureFixture[str], peer: str, message: str) -> None:
    path = _write(tmp_path, peer)
    with pytest.raises(C.ConfigError) as e:
        C.load(path)
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)
    assert cli.main(["check-config", "-c", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith(f"tapliance: {path}: "), err


def _files(tmp_path: Path) -> None:
    (tmp_path / "ttt.key").write_bytes(b"c2VjcmV0")
    (tmp_path / "ttt.key").chmod(0o600)
    (tmp_path / "t.key").write_bytes(HEX.encode() + b"\n")
    (tmp_path / "t.key").chmod(0o600)
    (tmp_path / "nonce").write_bytes(b"\x05\x00\x00\x00")
    (tmp_path / "pad").write_bytes(bytes(4096))


TAPPET = (
    'suite = "tappet"\nprivate_key_file = "t.key"\nnonce_file = "nonce"\npublic_key = "' + HEX + '"\nlisten = ":1"\n'
)
FILES = [
    (
        "ttt.key",
        b"c2VjcmV0",
        0o644,
        'suite = "tinytaptunnel"\nkey_file = "ttt.key"\nallow_insecure = true\nlisten = ":1"',
        "ttt.key: tinytaptunnel key file has mode 0644, readable by others; run `chmod 600",
    ),
    (
        "ttt.key",
        b"not base64!",
        0o600,
        'suite = "tinytaptunnel"\nkey_file = "ttt.key"\nallow_insecure = true\nlisten = ":1"',
        "ttt.key: tinytaptunnel key file",
    ),
    ("t.key", HEX.encode(), 0o600, TAPPET, "t.key: tappet key file: expected 64 hex characters and a newline"),
    ("nonce", b"\x05\x00\x00", 0o644, TAPPET, "nonce: tappet nonce file: expected 4 bytes, got 3"),
    ("nonce", b"\xff\xff\xff\xff", 0o644, TAPPET, "nonce: tappet nonce"),
    (
        "t.key",
        b"zz" * 32 + b"\n",
        0o600,
        'suite = "quicktun-nacltai"\nprivate_key_file = "t.key"\npublic_key = "' + HEX + '"\nlisten = ":1"',
        "t.key: ",
    ),
    (
        "pad",
        bytes(10),
        0o600,
        'suite = "otptunnel"\npad_file = "pad"\nallow_insecure = true\nserver = true\nlisten = ":1"',
        "pad: otptunnel pad: 10 bytes cannot carry one datagram",
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "mode", "peer", "message"), FILES, ids=[f"{n}-{i}" for i, (n, *_) in enumerate(FILES)]
)
def test_bad_key_nonce_and_pad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, mode: int, peer: str, message: str
) -> None:
    _files(tmp_path)
    (tmp_path / name).write_bytes(content)
    (tmp_path / name).chmod(mode)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    path = _write(tmp_path, peer)
    assert cli.main(["check-config", "-c", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err, err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "t.toml"} == before


def test_check_config_explains_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _files(tmp_path)
    path = _write(
        tmp_path,
        TAPPET + '[[peer]]\nsuite = "tinytaptunnel"\nkey_file = "new.key"\nallow_insecure = true\n'
        'endpoint = "192.0.2.7:9123"',
    )
    assert cli.main(["check-config", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert "interface tap0 mtu 1402" in out  # tappet fits the least over a 1500 underlay
    assert "nonce file" in out and "would use prefix 6" in out
    assert "new.key does not exist: it is created (mode 0600) at start" in out
    assert "INSECURE (allow_insecure = true): no encryption" in out
    assert (tmp_path / "nonce").read_bytes() == b"\x05\x00\x00\x00" and not (tmp_path / "new.key").exists()
