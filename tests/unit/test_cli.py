"""The command line as a user meets it: keys, check-config, exit codes and one-line errors."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tapliance import keyfile


def tl(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tapliance.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cwd,
        check=False,
    )


def test_help_explains() -> None:
    r = tl("--help")
    assert r.returncode == 0
    for word in ("genkey", "pubkey", "up", "status", "check-config", "net", "exit codes"):
        assert word in r.stdout


def test_genkey_redirect_is_0600_and_pubkey_matches(tmp_path: Path) -> None:
    key = tmp_path / "host.key"
    with open(key, "w") as f:  # like `tapliance genkey > host.key` under a 022 umask
        os.chmod(key, 0o644)
        subprocess.run([sys.executable, "-m", "tapliance.cli", "genkey"], stdout=f, check=True, timeout=30)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    priv = keyfile.decode(key.read_text())
    r = tl("pubkey", stdin=key.read_text())
    assert r.returncode == 0
    assert keyfile.decode(r.stdout) == keyfile.public_from_private(priv)


def test_genkey_output_refuses_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "k"
    assert tl("genkey", "-o", str(out)).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    r = tl("genkey", "-o", str(out))
    assert r.returncode == 2 and "refusing to overwrite" in r.stderr


def _config(tmp_path: Path, key_text: str | None, mode: int = 0o600) -> Path:
    if key_text is not None:
        k = tmp_path / "host.key"
        k.write_text(key_text)
        k.chmod(mode)
    peer = keyfile.encode(keyfile.public_from_private(keyfile.generate_private()))
    c = tmp_path / "t.toml"
    c.write_text(f'[tunnel]\nprivate_key_file = "host.key"\n[[peer]]\npublic_key = "{peer}"\n')
    return c


GOOD_KEY = keyfile.encode(keyfile.generate_private()) + "\n"


def test_check_config_ok(tmp_path: Path) -> None:
    r = tl("check-config", "-c", str(_config(tmp_path, GOOD_KEY)))
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout and "peer" in r.stdout


@pytest.mark.parametrize(
    ("key_text", "mode", "message"),
    [
        (None, 0o600, "private key file does not exist"),
        (GOOD_KEY, 0o644, "has mode 0644, readable by others; run `chmod 600"),
        (GOOD_KEY, 0o640, "has mode 0640"),
        ("", 0o600, "private key is empty"),
        ("not base64 at all!!", 0o600, "private key is not base64"),
        ("AAAA\n", 0o600, "decodes to 3 bytes, expected 32"),
        ("\x00\xff", 0o600, "cannot read private key file"),
    ],
)
def test_bad_key_files(tmp_path: Path, key_text: str | None, mode: int, message: str) -> None:
    r = tl("check-config", "-c", str(_config(tmp_path, key_text, mode)))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("tapliance: ") and message in r.stderr, r.stderr


def test_own_key_as_peer_and_no_peers(tmp_path: Path) -> None:
    (tmp_path / "host.key").write_text(GOOD_KEY)
    (tmp_path / "host.key").chmod(0o600)
    own = keyfile.encode(keyfile.public_from_private(keyfile.decode(GOOD_KEY)))
    c = tmp_path / "own.toml"
    c.write_text(f'[tunnel]\nprivate_key_file = "host.key"\n[[peer]]\npublic_key = "{own}"\n')
    r = tl("check-config", "-c", str(c))
    assert r.returncode == 2 and "this is our own public key" in r.stderr
    c.write_text('[tunnel]\nprivate_key_file = "host.key"\n')
    r = tl("check-config", "-c", str(c))
    assert r.returncode == 2 and "no [[peer]] configured" in r.stderr


@pytest.mark.parametrize("args", [["frobnicate"], ["up", "--bogus"], [], ["net", "explode"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    r = tl(*args)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "tapliance: " in r.stderr


def test_pubkey_bad_stdin() -> None:
    r = tl("pubkey", stdin="garbage")
    assert r.returncode == 2 and r.stderr.startswith("tapliance: private key on stdin is not base64")


def _pubkey_from_file(key: Path) -> subprocess.CompletedProcess[str]:
    """`tapliance pubkey < key`: stdin is the file itself, not a pipe."""
    with open(key) as f:
        return subprocess.run(
            [sys.executable, "-m", "tapliance.cli", "pubkey"],
            stdin=f,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604], ids=lambda m: f"{m:04o}")
def test_pubkey_refuses_key_file_readable_by_others(tmp_path: Path, mode: int) -> None:
    key = tmp_path / "host.key"
    key.write_text(GOOD_KEY)
    key.chmod(mode)
    r = _pubkey_from_file(key)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr == (
        f"tapliance: {key}: private key file has mode {mode:04o}, readable by others; run `chmod 600 {key}`\n"
    )


def test_pubkey_accepts_0600_key_file_and_pipe(tmp_path: Path) -> None:
    key = tmp_path / "host.key"
    key.write_text(GOOD_KEY)
    key.chmod(0o600)
    r = _pubkey_from_file(key)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert keyfile.decode(r.stdout) == keyfile.public_from_private(keyfile.decode(GOOD_KEY))
    key.chmod(0o644)  # a pipe has no file mode to check: `cat host.key | tapliance pubkey` is the user's call
    r = tl("pubkey", stdin=key.read_text())
    assert r.returncode == 0 and keyfile.decode(r.stdout) == keyfile.public_from_private(keyfile.decode(GOOD_KEY))


def test_status_without_daemon(tmp_path: Path) -> None:
    r = tl("status", "-s", str(tmp_path / "none.sock"))
    assert r.returncode == 1 and "no control socket" in r.stderr
