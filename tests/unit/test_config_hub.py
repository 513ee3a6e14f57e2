"""Bad hub settings: a pool overlapping the hub's own addresses or outside its subnets, a reservation outside
the pool, duplicate keys or names across peers.d files: one-line errors naming file and key, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapliance import keyfile
from tests.unit.test_cli import tl

KEY = keyfile.generate_private()
P1, P2 = (keyfile.encode(keyfile.public_from_private(keyfile.generate_private())) for _ in range(2))


def _write(d: Path, pool: str, peers: str, files: dict[str, str] | None = None) -> Path:
    (d / "host.key").write_text(keyfile.encode(KEY) + "\n")
    (d / "host.key").chmod(0o600)
    c = d / "hub.toml"
    c.write_text(f'[interface]\naddresses = ["10.8.0.1/24"]\n[tunnel]\nprivate_key_file = "host.key"\n{pool}\n{peers}')
    for name, text in (files or {}).items():
        (d / "peers.d").mkdir(exist_ok=True)
        (d / "peers.d" / name).write_text(text)
    return c


POOL = '[pool]\nipv4 = "10.8.0.100-10.8.0.199"\n'
BAD = [
    (
        '[pool]\nipv4 = "10.8.0.0/24"\n',
        f'[[peer]]\npublic_key = "{P1}"\n',
        None,
        "hub.toml: pool.ipv4",
        "overlaps the hub's own address or gateway 10.8.0.1",
    ),
    (
        '[pool]\nipv4 = "10.9.0.10-10.9.0.20"\n',
        f'[[peer]]\npublic_key = "{P1}"\n',
        None,
        "hub.toml: pool.ipv4",
        "is not inside the subnet",
    ),
    ('[pool]\nipv4 = "10.8.0.20-10.8.0.10"\n', "", None, "hub.toml: pool.ipv4", "not an address range"),
    (
        POOL,
        f'[[peer]]\npublic_key = "{P1}"\nreserve = ["10.8.0.50"]\n',
        None,
        "hub.toml: peer[0].reserve[0]",
        "outside the pool",
    ),
    (
        "",
        f'[[peer]]\npublic_key = "{P1}"\nreserve = ["10.8.0.150"]\n',
        None,
        "hub.toml: peer[0].reserve[0]",
        "there is no [pool]",
    ),
    (
        POOL,
        f'[[peer]]\npublic_key = "{P1}"\n',
        {"b.toml": f'[[peer]]\npublic_key = "{P1}"\n'},
        "peers.d/b.toml: peer[0].public_key",
        "also ",
    ),
    (
        POOL,
        f'[[peer]]\nname = "x"\npublic_key = "{P1}"\n',
        {"a.toml": f'[[peer]]\nname = "x"\npublic_key = "{P2}"\n'},
        "peers.d/a.toml: peer[0].name",
        "duplicate: 'x' is also",
    ),
    (POOL, "", {"a.toml": '[tunnel]\nlisten = ":1"\n'}, "peers.d/a.toml: tunnel", "unknown key"),
    (POOL, "", {"a.toml": '[[peer]]\npublic_key = "nope"\n'}, "peers.d/a.toml: peer[0].public_key", ""),
]


@pytest.mark.parametrize(("pool", "peers", "files", "where", "message"), BAD)
def test_bad_hub_settings_are_one_line_errors(
    tmp_path: Path, pool: str, peers: str, files: dict[str, str] | None, where: str, message: str
) -> None:
    r = tl("check-config", "-c", str(_write(tmp_path, pool, peers, files)))
    assert r.returncode == 2, r
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert where in r.stderr and message in r.stderr, r.stderr


def test_peers_d_adds_peers_and_peer_add_writes_one(tmp_path: Path) -> None:
    c = _write(tmp_path, POOL, f'[[peer]]\nname = "a"\npublic_key = "{P1}"\n')
    r = tl("peer", "add", "b", P2, "--endpoint", "192.0.2.9:9123", "-c", str(c))
    assert r.returncode == 0, r.stderr
    assert "no daemon is running" in r.stdout and (tmp_path / "peers.d" / "b.toml").exists()
    r = tl("check-config", "-c", str(c))
    assert r.returncode == 0 and "peer b " in r.stdout, r
    r = tl("peer", "add", "c", "not-a-key", "-c", str(c))
    assert r.returncode == 2 and "is not a public key" in r.stderr
    r = tl("peer", "add", "c", P1, "-c", str(c))  # a's key again: refused, nothing left behind
    assert r.returncode == 2 and "duplicate" in r.stderr and not (tmp_path / "peers.d" / "c.toml").exists()
    r = tl("peer", "remove", "b", "-c", str(c))
    assert r.returncode == 0 and not (tmp_path / "peers.d" / "b.toml").exists()
