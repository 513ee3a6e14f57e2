"""`tapliance import PROGRAM ARGS...`: real command lines of each predecessor -> a config that loads, passes
check-config with the files in the originals' formats, and gives the peer what the original would use;
every bad input is one line on stderr, exit 2, and nothing written."""

from __future__ import annotations

import base64
import os
import shlex
import stat
from pathlib import Path
from typing import Any

import pytest

from tapliance import cli
from tapliance import config as C
from tapliance.compat.importers.quicktun_settings import VARIABLES

SECRET = "597848b4f4148d5c4551952b10e91b80d5eeb80eb4411358b9cb47ccb976fe35"  # seed notes 1.7, QuickTun A
OUR_PUB = "879c8e532032e6aa4fc9d341b13167e714affe3669c32fca17135fe5ab4cb550"
PEER_PUB = "1f9c7bb228560659d4e04368bd16fa48882b9b8f6431cfab5978b757941f1c18"  # QuickTun B
TAPPET_KEY = "1e7ae8d0508e579b2fade5e5e6277ca5665a5e8eeba8b28f57a0eb0850395c67"
TAPPET_PUB = "097964088ed4020bd4af0ae3403671cb14b6b78d670860b9cad11c3aa2e6467a"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run in tmp_path (relative paths resolve there) with no QuickTun variables in the environment."""
    monkeypatch.chdir(tmp_path)
    for k in [*VARIABLES, "IFACE", *(k for k in os.environ if k.startswith("IF_QT_"))]:
        monkeypatch.delenv(k, raising=False)


def imported(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    rc = cli.main(["import", *argv])
    out, err = capsys.readouterr()
    assert rc == 0 and err == "", err
    return out


def loaded(tmp_path: Path, text: str) -> C.Config:
    path = tmp_path / "imported.toml"
    path.write_text(text)
    return C.load(path)


def ep(s: str | None) -> C.Endpoint | None:
    if s is None:
        return None
    host, _, port = s.rpartition(":")
    return C.Endpoint(host.strip("[]"), int(port))


def check_peer(cfg: C.Config, tmp_path: Path, want: dict[str, Any]) -> None:
    (p,) = cfg.peers
    for key, value in want.items():
        if key == "interface":
            assert cfg.interface.name == value
        elif key in ("listen", "endpoint"):
            assert getattr(p, key) == ep(value), key
        elif key.endswith("_file"):
            assert getattr(p, key) == tmp_path / value, key  # a relative one resolved against the cwd
        elif key == "public_key":
            assert p.public_key == bytes.fromhex(value)
        else:
            assert getattr(p, key) == value, key


TTT = [
    (["ttt.key", ":9123", "192.0.2.1:9123"], {"listen": "0.0.0.0:9123", "endpoint": "192.0.2.1:9123"}),
    (["/etc/ttt.key", ":9123"], {"listen": "[::]:9123", "endpoint": None, "key_file": "/etc/ttt.key"}),
    (["sub/../k", "10.0.0.1:4000", "10.0.0.2:4001"], {"listen": "10.0.0.1:4000", "key_file": "k"}),
    (["k", ":9123", "[2001:db8::1]:9123"], {"listen": "[::]:9123", "endpoint": "[2001:db8::1]:9123", "key_file": "k"}),
]


@pytest.mark.parametrize(("argv", "want"), TTT)
def test_tinytaptunnel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], want: dict[str, Any]
) -> None:
    out = imported(capsys, "tinytaptunnel", *argv)
    cfg = loaded(tmp_path, out)
    check_peer(cfg, tmp_path, {"suite": "tinytaptunnel", "allow_insecure": True, "key_file": "ttt.key", **want})
    assert cfg.interface.name == "tap0" and "named by the kernel" in out
    assert "# tinytaptunnel's weakness: no encryption" in out  # named next to allow_insecure
    assert "#   " + shlex.join(["tinytaptunnel", *argv]) + "\n" in out  # the header names the original command


def _qt(*pairs: str) -> list[str]:
    return [w for i in range(0, len(pairs), 2) for w in ("-c", pairs[i], pairs[i + 1])]


QT = [
    (
        _qt("PROTOCOL", "nacltai", "REMOTE_ADDRESS", "192.0.2.1", "PRIVATE_KEY_FILE", "qt.key")
        + _qt("PUBLIC_KEY", PEER_PUB, "TIME_WINDOW", "5", "ROLE", "1"),
        {"suite": "quicktun-nacltai", "listen": "0.0.0.0:2998", "endpoint": "192.0.2.1:2998"}
        | {"private_key_file": "qt.key", "public_key": PEER_PUB, "time_window": 5, "quicktun_role": 1},
    ),
    (  # no PROTOCOL and no PRIVATE_KEY: QuickTun runs raw (PRIVATE_KEY_FILE does not count), float mode
        _qt("PRIVATE_KEY_FILE", "qt.key", "PUBLIC_KEY", PEER_PUB),
        {"suite": "quicktun-raw", "listen": "0.0.0.0:2998", "endpoint": None, "allow_insecure": True},
    ),
    (  # no PROTOCOL, PRIVATE_KEY: nacl0; an all-zero REMOTE_ADDRESS floats
        ["--key-out", "qt.key", *_qt("PRIVATE_KEY", SECRET, "PUBLIC_KEY", PEER_PUB, "REMOTE_ADDRESS", "0.0.0.0")],
        {"suite": "quicktun-nacl0", "endpoint": None, "private_key_file": "qt.key", "allow_insecure": True},
    ),
    (
        _qt("PROTOCOL", "salty", "LOCAL_ADDRESS", "2001:db8::2", "LOCAL_PORT", "3000")
        + _qt("REMOTE_ADDRESS", "2001:db8::1", "REMOTE_PORT", "4000", "PRIVATE_KEY_FILE", "/k", "PUBLIC_KEY", PEER_PUB),
        {"suite": "quicktun-salty", "listen": "[2001:db8::2]:3000", "endpoint": "[2001:db8::1]:4000"},
    ),
    (  # a v6 remote without LOCAL_ADDRESS: QuickTun's socket is of the remote's family
        _qt("PROTOCOL", "raw", "REMOTE_ADDRESS", "2001:db8::1", "REMOTE_PORT", "5000", "INTERFACE", "qt0"),
        {"suite": "quicktun-raw", "listen": "[::]:2998", "endpoint": "[2001:db8::1]:5000", "interface": "qt0"},
    ),
    (
        _qt("PROTOCOL", "nacltai", "PRIVATE_KEY_FILE", "k", "PUBLIC_KEY", PEER_PUB, "ROLE", "0"),
        {"quicktun_role": 0, "time_window": None, "endpoint": None},
    ),
    (  # ROLE: QuickTun asks only whether it is zero
        _qt("PROTOCOL", "nacltai", "PRIVATE_KEY_FILE", "k", "PUBLIC_KEY", PEER_PUB.upper(), "ROLE", "-3"),
        {"quicktun_role": 1, "public_key": PEER_PUB},
    ),
]


@pytest.mark.parametrize(("argv", "want"), QT)
def test_quicktun_pairs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], want: dict[str, Any]
) -> None:
    out = imported(capsys, "quicktun", *argv)
    check_peer(loaded(tmp_path, out), tmp_path, want)
    assert SECRET not in out


def test_quicktun_inline_key_goes_to_a_0600_file_never_into_the_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--key-out", "qt.key", *_qt("PROTOCOL", "nacltai", "PRIVATE_KEY", SECRET, "PUBLIC_KEY", PEER_PUB)]
    out = imported(capsys, "-o", "t.toml", "quicktun", *argv)
    assert out == ""
    key = tmp_path / "qt.key"
    assert key.read_bytes() == SECRET.encode() + b"\n"  # QuickTun's PRIVATE_KEY_FILE format too
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    text = (tmp_path / "t.toml").read_text()
    assert SECRET not in text and SECRET.upper() not in text and "<secret, not shown>" in text
    assert OUR_PUB in text  # this end's public key, for checking against the far end's PUBLIC_KEY
    assert cli.main(["check-config", "-c", str(tmp_path / "t.toml")]) == 0


def test_quicktun_settings_it_does_otherwise_become_comments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = _qt("TUN_UP_SCRIPT", "ip addr add 10.0.0.1/24 dev tap0", "SETUID", "nobody", "CHROOT", "/var/empty")
    out = imported(capsys, "quicktun", *_qt("PROTOCOL", "raw", "DEBUG", "1", "TUN_MODE", "0", "USE_PI", "0"), *extra)
    loaded(tmp_path, out)
    comments = "\n".join(line for line in out.splitlines() if line.startswith("#"))
    for word in (
        "TUN_UP_SCRIPT=ip addr add",
        "ExecStartPost",
        "SETUID=nobody",
        "no privilege drop",
        "CHROOT=/var/empty",
    ):
        assert word in comments.replace("\n#   ", " "), word
    assert '[log] level = "debug"' in comments


def test_quicktun_pairs_ignore_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROTOCOL", "salty")
    monkeypatch.setenv("REMOTE_ADDRESS", "192.0.2.9")
    monkeypatch.setenv("LOCAL_PORT", "7000")
    cfg = loaded(tmp_path, imported(capsys, "quicktun", "-c", "PROTOCOL", "raw"))
    check_peer(cfg, tmp_path, {"suite": "quicktun-raw", "endpoint": None, "listen": "0.0.0.0:2998"})


ENV = {
    "PROTOCOL": "nacltai",
    "REMOTE_ADDRESS": "192.0.2.1",
    "REMOTE_PORT": "3000",
    "PRIVATE_KEY_FILE": "qt.key",
    "PUBLIC_KEY": PEER_PUB,
    "TIME_WINDOW": "10",
}
WANT_ENV = {"suite": "quicktun-nacltai", "endpoint": "192.0.2.1:3000", "private_key_file": "qt.key"}


def test_quicktun_env_plain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in {**ENV, "INTERFACE": "qt1"}.items():
        monkeypatch.setenv(k, v)
    cfg = loaded(tmp_path, imported(capsys, "quicktun", "--env"))
    check_peer(cfg, tmp_path, {**WANT_ENV, "time_window": 10, "interface": "qt1"})


def test_quicktun_env_debian(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(f"IF_QT_{k}", v)
    monkeypatch.setenv("IFACE", "tq0")
    out = imported(capsys, "quicktun", "--env")
    check_peer(loaded(tmp_path, out), tmp_path, {**WANT_ENV, "interface": "tq0"})
    assert "quicktun.debian" in out and "IF_QT_REMOTE_ADDRESS=192.0.2.1" in out


def test_quicktun_env_with_both_kinds_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IF_QT_PROTOCOL", "raw")
    monkeypatch.setenv("PROTOCOL", "nacl0")
    assert cli.main(["import", "quicktun", "--env"]) == 2
    assert "--env: both QuickTun's variables (PROTOCOL)" in capsys.readouterr().err


INTERFACES = f"""\
# /etc/network/interfaces
auto lo
iface lo inet loopback

auto tq0
iface tq0 inet static
\taddress 10.9.0.1
\tnetmask 255.255.255.0
\tmtu 1400
\tpointopoint 10.9.0.2
\tqt_remote_address 192.0.2.1
\tqt-protocol nacl0
\tqt_private_key {SECRET}
\tqt_public_key \\
\t    {PEER_PUB}
iface tq0 inet6 static
\taddress fd00::1/64
"""


def test_quicktun_ifupdown_stanza(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "interfaces").write_text(INTERFACES)
    out = imported(capsys, "quicktun", "--ifupdown", "interfaces", "--iface", "tq0", "--key-out", "tq0.key")
    cfg = loaded(tmp_path, out)
    check_peer(cfg, tmp_path, {"suite": "quicktun-nacl0", "endpoint": "192.0.2.1:2998", "interface": "tq0"})
    assert [str(a) for a in cfg.interface.addresses] == ["10.9.0.1/24", "fd00::1/64"] and cfg.interface.mtu == 1400
    assert "'pointopoint 10.9.0.2' is ifupdown's, not imported" in out and SECRET not in out
    assert (tmp_path / "tq0.key").read_text() == SECRET + "\n"


TAPPET = [
    (
        ["tappet0", "nonce", "Y.key", "X.pub", "192.0.2.34", "11011", "-l"],
        {"server": True, "listen": "192.0.2.34:11011"},
    ),
    (["tappet0", "nonce", "X.key", "Y.pub", "192.0.2.34", "11011"], {"server": False, "endpoint": "192.0.2.34:11011"}),
    (["tp1", "/n", "/X.key", "/Y.pub", "2001:db8::1", "65534", "-l"], {"listen": "[2001:db8::1]:65534"}),
]


@pytest.mark.parametrize(("argv", "want"), TAPPET)
def test_tappet(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], want: dict[str, Any]) -> None:
    cfg = loaded(tmp_path, imported(capsys, "tappet", *argv))
    files = {"nonce_file": argv[1], "private_key_file": argv[2], "public_key_file": argv[3]}
    client = {"endpoint": None} if "-l" in argv else {"listen": None}
    check_peer(cfg, tmp_path, {"suite": "tappet", "interface": argv[0], **files, **client, **want})


OTP = [
    (["-S", "-K", "pad", "-A", "203.0.113.7"], {"server": True, "listen": "0.0.0.0:12000"}, "10.8.0.1/24"),
    (
        ["-K", "/srv/pad", "-A", "198.51.100.1", "-P", "13000", "--local-port", "14000", "--tap-addr", "10.8.0.2"],
        {"server": False, "endpoint": "198.51.100.1:13000", "listen": "0.0.0.0:14000", "pad_file": "/srv/pad"},
        "10.8.0.2/24",
    ),
    (  # argparse's prefix matching, as OTPTunnel's own parser has it
        ["--serv", "-K", "pad", "-A", "203.0.113.7", "--tap-netmask", "16", "--local-a", "192.0.2.5"],
        {"server": True, "listen": "192.0.2.5:12000", "endpoint": "203.0.113.7:12000"},
        "10.8.0.1/16",
    ),
]


@pytest.mark.parametrize(("argv", "want", "address"), OTP)
def test_otptunnel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], want: dict[str, Any], address: str
) -> None:
    out = imported(capsys, "otptunnel", *argv, "--tap-mtu", "32768")
    cfg = loaded(tmp_path, out)
    check_peer(cfg, tmp_path, {"suite": "otptunnel", "pad_file": "pad", "allow_insecure": True, **want})
    assert [str(a) for a in cfg.interface.addresses] == [address]
    assert cfg.interface.mtu is None and "--tap-mtu 32768: only OTPTunnel's TAP read size" in out


def _secret(path: Path, content: bytes, mode: int = 0o600) -> None:
    path.write_bytes(content)
    path.chmod(mode)


ROUND_TRIP = [
    ("tinytaptunnel", ["ttt.key", ":9123", "192.0.2.1:9123"]),
    ("tinytaptunnel", ["missing.key", ":9123"]),  # created at start, as tinytaptunnel does; check-config says so
    ("quicktun", _qt("PROTOCOL", "nacltai", "PRIVATE_KEY_FILE", "qt.key", "PUBLIC_KEY", PEER_PUB, "TIME_WINDOW", "3")),
    ("quicktun", ["--key-out", "new.key", *_qt("PRIVATE_KEY", SECRET, "PUBLIC_KEY", PEER_PUB)]),
    (
        "quicktun",
        _qt("PROTOCOL", "salty", "PRIVATE_KEY_FILE", "qt.key", "PUBLIC_KEY", PEER_PUB, "REMOTE_ADDRESS", "::1"),
    ),
    ("tappet", ["tappet0", "nonce", "S.key", "C.pub", "127.0.0.1", "11011", "-l"]),
    ("tappet", ["tappet0", "nonce", "S.key", "C.pub", "127.0.0.1", "11011"]),
    ("otptunnel", ["-S", "-K", "pad", "-A", "127.0.0.1"]),
    ("otptunnel", ["-K", "pad", "-A", "127.0.0.1", "--tap-addr", "10.8.0.2"]),
]


@pytest.mark.parametrize(("program", "argv"), ROUND_TRIP)
def test_round_trip_through_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], program: str, argv: list[str]
) -> None:
    _secret(tmp_path / "ttt.key", base64.b64encode(os.urandom(32)))  # tinytaptunnel: base64, no newline
    _secret(tmp_path / "qt.key", SECRET.encode() + b"\n")  # QuickTun: 64 hex digits
    _secret(tmp_path / "S.key", TAPPET_KEY.encode() + b"\n")  # tappet-keygen: .key 0600, .pub 0644
    _secret(tmp_path / "C.pub", TAPPET_PUB.encode() + b"\n", 0o644)
    (tmp_path / "nonce").write_bytes(bytes(4))  # dd if=/dev/zero of=nonce bs=1 count=4
    _secret(tmp_path / "pad", os.urandom(1 << 16))
    assert cli.main(["import", "-o", "out.toml", program, *argv]) == 0
    assert cli.main(["check-config", "-c", "out.toml"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "out.toml: OK" in out
    assert (tmp_path / "nonce").read_bytes() == bytes(4)  # check-config increments nothing


BAD = [
    ("tinytaptunnel", ["k"], "the following arguments are required: <local address>"),
    ("tinytaptunnel", ["k", ":0"], "<local address>: port must be 1-65535, got 0"),
    ("tinytaptunnel", ["k", "localhost:9123"], "<local address>: 'localhost' is not an IP address"),
    ("tinytaptunnel", ["k", ":9123", "192.0.2.1"], "[peer address]: expected HOST:PORT"),
    ("tinytaptunnel", ["k", ":9123", "192.0.2.1:1", "x"], "unrecognized arguments: x"),
    ("tinytaptunnel", ["k", "0.0.0.0:1", "[::1]:1"], "[peer address]: its address family differs"),
    ("quicktun", ["--bogus"], "unrecognized arguments: --bogus"),
    ("quicktun", [], "give one of -c NAME VALUE ..., --env, --ifupdown FILE (got none)"),
    ("quicktun", ["-c", "PROTOCOL"], "argument -c: expected 2 arguments"),
    ("quicktun", ["--env", *_qt("PROTOCOL", "raw")], "give one of -c NAME VALUE ..., --env, --ifupdown FILE (got -c"),
    ("quicktun", _qt("TUN_MODE", "1"), "TUN_MODE: TUN mode is not supported"),
    ("quicktun", _qt("USE_PI", "2"), "USE_PI: a packet-info header is not supported"),
    ("quicktun", _qt("TUN_MODE", "yes"), "TUN_MODE: not an integer: 'yes'"),
    ("quicktun", _qt("PROTOCOL", "nacl1"), "PROTOCOL: must be one of raw, nacl0, nacltai, salty, got 'nacl1'"),
    ("quicktun", _qt("PROTCOL", "raw"), "-c PROTCOL: not a QuickTun variable"),
    ("quicktun", _qt("PROTOCOL", "raw", "PROTOCOL", "nacl0"), "-c PROTOCOL: given twice"),
    ("quicktun", _qt("LOCAL_PORT", "70000"), "LOCAL_PORT: port must be 1-65535, got 70000"),
    ("quicktun", _qt("REMOTE_ADDRESS", "vpn.example"), "REMOTE_ADDRESS: 'vpn.example' is not an IP address"),
    (
        "quicktun",
        _qt("PROTOCOL", "nacltai", "PUBLIC_KEY", "zz" + PEER_PUB[2:], "PRIVATE_KEY_FILE", "k"),
        "PUBLIC_KEY: character 1 is not a hex digit",
    ),
    ("quicktun", _qt("PROTOCOL", "nacl0", "PUBLIC_KEY", PEER_PUB[:62]), "PUBLIC_KEY: expected 64 hex digits, got 62"),
    ("quicktun", _qt("PROTOCOL", "nacltai", "PRIVATE_KEY_FILE", "k"), "PUBLIC_KEY: missing: PROTOCOL nacltai needs"),
    ("quicktun", _qt("PROTOCOL", "salty", "PUBLIC_KEY", PEER_PUB), "PRIVATE_KEY: missing: PROTOCOL salty needs"),
    (
        "quicktun",
        _qt("PRIVATE_KEY", SECRET, "PUBLIC_KEY", PEER_PUB),
        "PRIVATE_KEY: the secret is not copied into a config: give --key-out FILE",
    ),
    (
        "quicktun",
        ["--key-out", "k", *_qt("PRIVATE_KEY", SECRET[1:], "PUBLIC_KEY", PEER_PUB)],
        "PRIVATE_KEY: expected 64",
    ),
    ("quicktun", ["--key-out", "k", *_qt("PROTOCOL", "raw")], "--key-out: PROTOCOL raw uses no key"),
    (
        "quicktun",
        ["--key-out", "out.toml", *_qt("PRIVATE_KEY", SECRET, "PUBLIC_KEY", PEER_PUB)],
        "-o: out.toml: is also another file this import writes",
    ),
    (
        "quicktun",
        _qt("PROTOCOL", "nacltai", "PRIVATE_KEY_FILE", "k", "PUBLIC_KEY", PEER_PUB, "TIME_WINDOW", "-1"),
        "TIME_WINDOW: must be 0-86400",
    ),
    ("quicktun", ["--iface", "tq0", *_qt("PROTOCOL", "raw")], "--iface: goes with --ifupdown FILE"),
    ("quicktun", ["--ifupdown", "interfaces"], "--iface: --ifupdown FILE needs it"),
    ("quicktun", ["--ifupdown", "interfaces", "--iface", "tq9"], "--iface: no 'iface tq9' stanza in"),
    (
        "quicktun",
        ["--ifupdown", "interfaces", "--iface", "lo"],
        "qt_remote_address: missing in iface lo: Debian's hooks",
    ),
    ("quicktun", ["--ifupdown", "nowhere", "--iface", "lo"], "--ifupdown: "),
    ("tappet", ["tappet0", "nonce", "X.key", "Y.pub", "192.0.2.34"], "the following arguments are required: <port>"),
    ("tappet", ["tappet0", "nonce", "X.key", "Y.pub", "192.0.2.34", "0"], "<port>: port must be 1-65534, got 0"),
    (
        "tappet",
        ["tappet0", "nonce", "X.key", "Y.pub", "192.0.2.34", "65535"],
        "<port>: port must be 1-65534, got 65535",
    ),
    ("tappet", ["tappet0", "nonce", "X.key", "Y.pub", "192.0.2.34", "1011x"], "<port>: not a port number: '1011x'"),
    ("tappet", ["tappet0", "nonce", "X.key", "Y.pub", "server.example", "1011"], "<ip>: 'server.example' is not an IP"),
    (
        "tappet",
        ["tappet0", "nonce", "X.key", "Y.pub", "-l", "192.0.2.34", "1"],
        "-l: tappet reads it only as the seventh",
    ),
    ("tappet", ["tappet0", "nonce", "X.key", "Y.pub", "192.0.2.34", "1", "-L"], "unrecognized arguments: -L"),
    (
        "tappet",
        ["a-very-long-interface-name", "n", "k", "p", "192.0.2.34", "1"],
        "<ifname>: not a valid interface name",
    ),
    ("tappet", ["t0", "n", "k", "p", "192.0.2.34", "1", "-o", "x.toml"], "tapliance's -o goes before the program"),
    ("otptunnel", ["-A", "192.0.2.1"], "-K: missing: the pad file"),
    ("otptunnel", ["-S", "-K", "pad"], "-A: missing: the far end's address (OTPTunnel needs it with -S too"),
    ("otptunnel", ["-K", "pad", "-A", "192.0.2.1", "-P", "0"], "-P: port must be 1-65535, got 0"),
    ("otptunnel", ["-K", "pad", "-A", "2001:db8::1"], "-A: '2001:db8::1': OTPTunnel's socket is IPv4 only"),
    ("otptunnel", ["-K", "pad", "-A", "192.0.2.1", "--tap-netmask", "255.255.255.0"], "--tap-netmask: not an integer"),
    ("otptunnel", ["-K", "pad", "-A", "192.0.2.1", "--tap-netmask", "33"], "--tap-netmask: a prefix length 0-32"),
    ("otptunnel", ["-K", "pad", "-A", "192.0.2.1", "--foo"], "unrecognized arguments: --foo"),
]


def _listing(tmp_path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(tmp_path)): p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("program", "argv", "message"), BAD, ids=[f"{p}-{i}" for i, (p, _, _) in enumerate(BAD)])
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], program: str, argv: list[str], message: str
) -> None:
    (tmp_path / "interfaces").write_text(INTERFACES)
    before = _listing(tmp_path)
    assert cli.main(["import", "-o", "out.toml", program, *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith(f"tapliance: import {program}: ") and message in err, err
    assert SECRET not in err
    assert _listing(tmp_path) == before


def test_existing_files_are_never_overwritten_and_nothing_is_half_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["quicktun", "--key-out", "qt.key", *_qt("PRIVATE_KEY", SECRET, "PUBLIC_KEY", PEER_PUB)]
    (tmp_path / "qt.key").write_text("mine")
    before = _listing(tmp_path)
    assert cli.main(["import", "-o", "new.toml", *argv]) == 2
    assert "tapliance: import quicktun: --key-out: " in capsys.readouterr().err
    assert _listing(tmp_path) == before
    (tmp_path / "qt.key").unlink()
    (tmp_path / "out.toml").write_text("mine")
    before = _listing(tmp_path)
    assert cli.main(["import", "-o", "out.toml", *argv]) == 2  # the key would be new: not written either
    err = capsys.readouterr().err
    assert err.startswith("tapliance: import quicktun: -o: ") and "already exists; refusing to overwrite" in err
    assert _listing(tmp_path) == before


def test_help_of_each_program_explains_its_input_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    for program, words in {
        "tinytaptunnel": ("<key file>", "<local address>", "peer address"),
        "quicktun": ("-c NAME VALUE", "--env", "IF_QT_", "--ifupdown FILE", "--iface NAME", "--key-out FILE"),
        "tappet": ("<ifname>", "<nonce-file>", "<our.key>", "<their.pub>", "-l"),
        "otptunnel": ("-S", "-K", "-A", "--tap-netmask", "--tap-mtu"),
    }.items():
        assert cli.main(["import", program, "--help"]) == 0
        out, err = capsys.readouterr()
        assert err == "" and f"usage: tapliance import {program}" in out and f"tapliance import {program} " in out
        assert all(w in out for w in words), program
    with pytest.raises(SystemExit) as e:
        cli.main(["import", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert all(p in out for p in ("tinytaptunnel", "quicktun", "tappet", "otptunnel", "-o OUTPUT"))
