"""Bad TCP settings: every one a one-line error naming the key, exit 2, nothing started; good ones pass
check-config and say what they do."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapliance import keyfile
from tests.unit.test_cli import tl

KEY = keyfile.generate_private()
PEER = keyfile.encode(keyfile.public_from_private(keyfile.generate_private()))


def _write(d: Path, tunnel: str, peer: str) -> Path:
    (d / "host.key").write_text(keyfile.encode(KEY) + "\n")
    (d / "host.key").chmod(0o600)
    c = d / "t.toml"
    c.write_text(f'[tunnel]\nprivate_key_file = "host.key"\n{tunnel}\n[[peer]]\n{peer}\n')
    return c


BAD = [
    ("", f'public_key = "{PEER}"\ntransport = "carrier-pigeon"', "peer[0].transport", "must be one of"),
    ("", f'public_key = "{PEER}"\ntransport = "tcp"', "peer[0].transport", "set tunnel.tcp_listen"),
    (
        'tcp_listen = ":443"',
        f'public_key = "{PEER}"\ntcp_padding = true',
        "peer[0].tcp_padding",
        'only for transport = "tcp" or "auto"',
    ),
    ('tcp_listen = ":99999"', f'public_key = "{PEER}"\ntransport = "tcp"', "tunnel.tcp_listen", "port must be"),
    (
        'tcp_listen = ":443"\ntcp_share_backend = "localhost:8443"',
        f'public_key = "{PEER}"\ntransport = "tcp"',
        "tunnel.tcp_share_backend",
        "is not an IP address",
    ),
    (
        'tcp_listen = ":443"\ntcp_share_backend = "127.0.0.1:443"',
        f'public_key = "{PEER}"\ntransport = "tcp"',
        "tunnel.tcp_share_backend",
        "a loop",
    ),
    (
        'tcp_proxy_protocol = true\ntcp_listen = ":443"',
        f'public_key = "{PEER}"\ntransport = "tcp"',
        "tunnel.tcp_proxy_protocol",
        "only with tunnel.tcp_share_backend",
    ),
    (
        'tcp_listen = ":443"',
        f'public_key = "{PEER}"\ntransport = "tcp"\ntcp_encryption = "off"',
        "peer[0].tcp_encryption",
        "insecure",
    ),
    (
        'tcp_listen = ":443"',
        f'public_key = "{PEER}"\ntransport = "tcp"\nrequire_password = true',
        "peer[0].password_file",
        "require_password needs",
    ),
    ('tcp_listen = ":443"', 'transport = "tcp"', "peer[0].public_key", "known by require_password"),
    (
        "",
        f'public_key = "{PEER}"\ntransport = "auto"\nendpoint = "192.0.2.1:9123"',
        "peer[0].tcp_endpoint",
        "give endpoint and tcp_endpoint",
    ),
    (
        'tcp_listen = ":443"',
        f'public_key = "{PEER}"\ntransport = "tcp"\nassign_addresses = ["10.0.0.2/24", "10.0.0.3/24"]',
        "peer[0].assign_addresses",
        "one address per family",
    ),
    ("", f'public_key = "{PEER}"\nendpoint = "-bad-.example:9123"', "peer[0].endpoint", "neither an IP address"),
    (
        'tcp_listen = ":443"',
        f'public_key = "{PEER}"\ntransport = "tcp"\ntcp_anonymous = true',
        "peer[0].tcp_anonymous",
        "an anonymous client dials",
    ),
]


@pytest.mark.parametrize(("tunnel", "peer", "key", "message"), BAD)
def test_bad_tcp_settings_are_one_line_errors(tmp_path: Path, tunnel: str, peer: str, key: str, message: str) -> None:
    r = tl("check-config", "-c", str(_write(tmp_path, tunnel, peer)))
    assert r.returncode == 2, r
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert key in r.stderr and message in r.stderr, r.stderr


def test_a_missing_or_open_password_file_is_a_one_line_error(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    peer = f'public_key = "{PEER}"\ntransport = "tcp"\nrequire_password = true\npassword_file = "{pw}"'
    c = _write(tmp_path, 'tcp_listen = ":443"', peer)
    r = tl("check-config", "-c", str(c))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "password file does not exist" in r.stderr, r.stderr
    pw.write_text("secret\n")
    pw.chmod(0o644)
    r = tl("check-config", "-c", str(c))
    assert r.returncode == 2 and "chmod 600" in r.stderr, r.stderr
    pw.chmod(0o600)
    r = tl("check-config", "-c", str(c))
    assert r.returncode == 0, r.stderr
    assert "listen tcp 0.0.0.0:443" in r.stdout and "transport tcp" in r.stdout and "encryption required" in r.stdout


def test_a_dns_name_endpoint_is_accepted_for_native_peers(tmp_path: Path) -> None:
    c = _write(tmp_path, "", f'public_key = "{PEER}"\nendpoint = "vpn.example.net:9123"')
    r = tl("check-config", "-c", str(c))
    assert r.returncode == 0, r.stderr
