"""Config loading: defaults, and a table of malformed configs -> one-line errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapliance import cli, daemon, keyfile
from tapliance import config as C

PK = "N0z7ov3faNe5UDfG10fKu+Qy8Lk0lrqGTDdFnxt3sGg="
GOOD = f"""
[interface]
name = "tap0"
addresses = ["10.1.2.3/24", "fd00::1/64"]
[tunnel]
listen = ":9123"
private_key_file = "host.key"
[[peer]]
name = "b"
public_key = "{PK}"
endpoint = "203.0.113.40:9123"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "t.toml"
    p.write_text(text)
    return p


def test_good_config_and_defaults(tmp_path: Path) -> None:
    cfg = C.load(write(tmp_path, GOOD))
    assert cfg.interface.mtu is None and cfg.tap_mtu == 1500  # unset: 1500 when no legacy peer fits less
    assert cfg.tunnel.listen == C.Endpoint("0.0.0.0", 9123)
    assert cfg.tunnel.private_key_file == tmp_path / "host.key"  # relative to the config file
    assert cfg.tunnel.suite == "chacha20-poly1305"
    assert cfg.peers[0].endpoint == C.Endpoint("203.0.113.40", 9123)
    assert cfg.control_socket == Path("/run/tapliance/tap0.sock")
    assert cfg.bridge is None and cfg.nat is None and cfg.routes == ()


def test_ipv6_endpoint(tmp_path: Path) -> None:
    cfg = C.load(write(tmp_path, GOOD.replace("203.0.113.40:9123", "[2001:db8::1]:9123")))
    assert cfg.peers[0].endpoint == C.Endpoint("2001:db8::1", 9123)
    assert str(cfg.peers[0].endpoint) == "[2001:db8::1]:9123"


BAD = [
    ("[interface\nname='x'", "TOML syntax error"),
    ("bogus = 1", "bogus: unknown key"),
    ("[interface]\nname = 'this-name-is-too-long'", "interface.name: not a valid interface name"),
    ("[interface]\nmtu = 100", "interface.mtu: must be between 576 and 65000"),
    ("[interface]\nmtu = '1500'", "interface.mtu: must be an integer"),
    ("[interface]\nmtu = true", "interface.mtu: must be an integer, got a boolean"),
    ("[interface]\naddresses = ['10.0.0.1']", "interface.addresses[0]: '10.0.0.1' needs a prefix length"),
    ("[interface]\naddresses = ['10.0.0.300/24']", "interface.addresses[0]: not an IP address"),
    ("[interface]\nmac = '01:00:5e:00:00:01'", "interface.mac: 01:00:5e:00:00:01 is a multicast address"),
    ("[interface]\nmac = 'zz'", "interface.mac: not a MAC address"),
    ("[tunnel]\nlisten = '9123'", "tunnel.listen: expected HOST:PORT"),
    ("[tunnel]\nlisten = '0.0.0.0:70000'", "tunnel.listen: port must be 1-65535"),
    ("[tunnel]\nlisten = 'example.com:1'", "tunnel.listen: 'example.com' is not an IP address"),
    ("[tunnel]\nsuite = 'rot13'", "tunnel.suite: must be one of chacha20-poly1305, aes-256-gcm"),
    ("[tunnel]\nkeepalive = -1", "tunnel.keepalive: must be between 0 and 3600"),
    ("[tunnel]\nprivate_key_file = ''", "tunnel.private_key_file: must not be empty"),
    ("[[peer]]\nname = 'x'", "peer[0].public_key: missing"),
    ("[[peer]]\npublic_key = 'abc'", "peer[0].public_key: not a base64 X25519 public key"),
    (f"[[peer]]\npublic_key = '{PK}'\nendpoint = 'x'", "peer[0].endpoint: expected HOST:PORT"),
    (f"[[peer]]\npublic_key = '{PK}'\n[[peer]]\npublic_key = '{PK}'", "peer[1].public_key: duplicate"),
    (f"[[peer]]\npublic_key = '{PK}'\ncolour = 'red'", "peer[0].colour: unknown key"),
    (f"[[peer]]\npublic_key = '{PK}'\nkeepalive = -1", "peer[0].keepalive: must be between 0 and 3600"),
    ("peer = 3", "peer: must be an array of tables"),
    ("[log]\nlevel = 'loud'", "log.level: must be one of"),
    ("[[route]]\nto = '192.168.1.1/24'", "route[0].to: not a network address"),
    ("[[route]]\nto = '192.168.1.0/24'\nvia = 'fd00::1'", "route[0].via: IPv6 gateway for an IPv4 route"),
    ("[bridge]\nports = ['eth0']", "bridge.name: missing"),
    ("[nat]\nmasquerade = true", "nat.uplink: missing"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_configs(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(C.ConfigError) as e:
        C.load(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: "), msg
    assert message in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_configs_through_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    """What a user sees for each bad config: `tapliance check-config` exits 2 with one line, no traceback."""
    path = write(tmp_path, text)
    assert cli.main(["check-config", "-c", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n") and "Traceback" not in err, err
    assert err.startswith(f"tapliance: {path}: ") and message in err, err


def _with_psk(tmp_path: Path, psk_mode: int | None, psk_path: str = "b.psk") -> Path:
    """GOOD plus a 0600 host key and a pre-shared key file of mode ``psk_mode`` (None: not created)."""
    host = tmp_path / "host.key"
    host.write_text(keyfile.encode(keyfile.generate_private()) + "\n")
    host.chmod(0o600)
    if psk_mode is not None:
        psk = tmp_path / "b.psk"
        psk.write_text(keyfile.encode(bytes(range(32))) + "\n")
        psk.chmod(psk_mode)
    return write(tmp_path, GOOD + f'preshared_key_file = "{psk_path}"\n')


def test_preshared_key_file_loads(tmp_path: Path) -> None:
    cfg = C.load(_with_psk(tmp_path, 0o600))
    assert cfg.peers[0].preshared_key_file == tmp_path / "b.psk"  # relative to the config file
    summary = daemon.check(cfg.path)
    assert summary.splitlines()[-1].endswith(" psk")
    _cfg, _priv, specs = daemon._load(cfg.path)
    assert specs[0].psk == bytes(range(32))
    absolute = C.load(write(tmp_path, GOOD + 'preshared_key_file = "/etc/tapliance/b.psk"\n'))
    assert absolute.peers[0].preshared_key_file == Path("/etc/tapliance/b.psk")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604], ids=lambda m: f"{m:04o}")
def test_preshared_key_file_readable_by_others_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: int
) -> None:
    path = _with_psk(tmp_path, mode)
    psk = tmp_path / "b.psk"
    with pytest.raises(keyfile.KeyFileError) as e:
        daemon.check(path)
    msg = str(e.value)
    assert msg == f"{psk}: pre-shared key file has mode {mode:04o}, readable by others; run `chmod 600 {psk}`"
    assert cli.main(["check-config", "-c", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"tapliance: {msg}\n"


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(C.ConfigError, match="cannot read"):
        C.load(tmp_path / "nope.toml")
    p = tmp_path / "bin.toml"
    p.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(C.ConfigError, match="not UTF-8"):
        C.load(p)
