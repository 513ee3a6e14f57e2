"""Shared-secret mode in the config: a passphrase peer loads; what it cannot be is a one-line error (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapliance import cli, daemon, keyfile

BASE = """
[tunnel]
private_key_file = "host.key"
[[peer]]
passphrase_file = "pass"
"""
PK = "N0z7ov3faNe5UDfG10fKu+Qy8Lk0lrqGTDdFnxt3sGg="


def _setup(tmp_path: Path, text: str, passphrase: str = "correct horse battery staple", mode: int = 0o600) -> Path:
    host = tmp_path / "host.key"
    host.write_text(keyfile.encode(keyfile.generate_private()) + "\n")
    host.chmod(0o600)
    pw = tmp_path / "pass"
    pw.write_text(passphrase + "\n")
    pw.chmod(mode)
    cfg = tmp_path / "t.toml"
    cfg.write_text(text)
    return cfg


def test_a_passphrase_peer_loads_without_a_public_key(tmp_path: Path) -> None:
    path = _setup(tmp_path, BASE + 'endpoint = "203.0.113.40:9123"\n')
    assert "known by a passphrase" in daemon.check(path)
    _cfg, _keys, specs = daemon._load(path)
    assert specs[0].passphrase == b"correct horse battery staple" and specs[0].psk is None


BAD = [
    (BASE + f'public_key = "{PK}"\n', "peer[0].public_key: a passphrase peer's key and psk come from the pairing"),
    (BASE + 'preshared_key_file = "x"\n', "peer[0].preshared_key_file: a passphrase peer's key"),
    (BASE + 'transport = "tcp"\nendpoint = "203.0.113.4:443"\n', "peer[0].transport: a passphrase peer pairs over UDP"),
    (BASE + '[[peer]]\npassphrase_file = "pass"\n', "peer[1].passphrase_file: also peer[0] has one"),
    (BASE + "[tunnel]\n", "tunnel"),  # a repeated table: TOML's own error, still one line
    (BASE.replace("[tunnel]", "[tunnel]\npassphrase_guesses = 0"), "tunnel.passphrase_guesses"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=range(len(BAD)))
def test_bad_passphrase_configs_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = _setup(tmp_path, text)
    assert cli.main(["check-config", "-c", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err, err


@pytest.mark.parametrize(
    ("passphrase", "mode", "message"),
    [("short", 0o600, "passphrase too short"), ("long enough words", 0o644, "readable by others")],
)
def test_bad_passphrase_files_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], passphrase: str, mode: int, message: str
) -> None:
    path = _setup(tmp_path, BASE, passphrase, mode)
    assert cli.main(["check-config", "-c", str(path)]) == 2
    _out, err = capsys.readouterr()
    assert err.count("\n") == 1 and message in err and str(tmp_path / "pass") in err, err
