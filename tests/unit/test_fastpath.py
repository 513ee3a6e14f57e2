"""The compiled data path's parts against the Python ones: the replay window under random operations, the
sealer for random frames, and opening single datagrams and GRO runs, genuine, replayed, forged and mangled.
Also the selection rules (config key, environment variable) and that the module is built where it can be."""

from __future__ import annotations

import random
import shutil
import sysconfig
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapliance import fastpath
from tapliance.assembly import fastpath_wanted
from tapliance.config import ConfigError
from tapliance.proto import replay as R
from tapliance.proto.native import wire as W
from tapliance.proto.native.handshake import Keys
from tapliance.proto.native.keypair import Keypair
from tapliance.proto.native.receive import FAST_DROPS, _open_frames

F = fastpath.fast
built = pytest.mark.skipif(F is None, reason=f"compiled path not built: {fastpath.unavailable}")
SUITES = ["chacha20-poly1305", "aes-256-gcm"]


def test_the_module_is_built_where_a_compiler_and_headers_exist() -> None:
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not (shutil.which("cc") and include.exists() and Path("/usr/include/openssl/evp.h").exists()):
        pytest.skip("no C compiler or headers here: the Python path is what runs")
    assert F is not None, f"setup.py should have built tapliance.fastpath._fast: {fastpath.unavailable}"


def test_selection_the_environment_overrides_the_config() -> None:
    assert fastpath.wanted(False, {}) is False and fastpath.wanted(True, {}) is True
    assert fastpath.wanted(False, {"TAPLIANCE_FASTPATH": "1"}) is True
    assert fastpath.wanted(True, {"TAPLIANCE_FASTPATH": "0"}) is False
    assert fastpath.wanted(True, {"TAPLIANCE_FASTPATH": " off "}) is False
    with pytest.raises(ValueError, match="TAPLIANCE_FASTPATH"):
        fastpath.wanted(True, {"TAPLIANCE_FASTPATH": "maybe"})


def test_selection_unset_is_auto_and_the_environment_still_decides() -> None:
    assert fastpath.wanted(None, {}) is None
    assert fastpath.wanted(None, {"TAPLIANCE_FASTPATH": "1"}) is True
    assert fastpath.wanted(None, {"TAPLIANCE_FASTPATH": "0"}) is False
    assert fastpath.wanted(None, {"TAPLIANCE_FASTPATH": ""}) is None
    assert fastpath.module(False) is None
    assert fastpath.module(None) is fastpath.fast and fastpath.module(True) is fastpath.fast


def test_the_default_is_auto() -> None:
    from tapliance.config.model import TunnelConfig

    assert TunnelConfig().fastpath is None


def test_a_bad_environment_value_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPLIANCE_FASTPATH", "2")
    with pytest.raises(ConfigError, match="use 1"):
        fastpath_wanted(False)


@built
def test_constants_agree() -> None:
    assert F is not None
    assert F.WINDOW == R.WINDOW and F.OVERHEAD == W.DATA_OVERHEAD


ops = st.lists(
    st.tuples(
        st.sampled_from(["check", "commit", "check_run", "commit_run"]), st.integers(0, 40000), st.integers(1, 255)
    ),
    max_size=200,
)


@built
@settings(max_examples=300, deadline=None)
@given(ops)
def test_the_replay_windows_agree(seq: list[tuple[str, int, int]]) -> None:
    assert F is not None
    py, c = R.ReplayWindow(), F.ReplayWindow()
    for op, counter, count in seq:
        if op == "commit_run":  # only ever called on a run check_run accepted
            if py.check_run(counter, count):
                py.commit_run(counter, count)
                c.commit_run(counter, count)
            continue
        args = (counter, count) if op == "check_run" else (counter,)
        assert getattr(py, op)(*args) == getattr(c, op)(*args), (op, counter, count)
        assert py.last == c.last
    assert all(py.check(i) == c.check(i) for i in range(max(0, py.last - R.WINDOW - 64), py.last + 64))


def _pair(suite: str, fast: bool) -> tuple[Keypair, Keypair]:
    keys = Keys(bytes(range(32)), bytes(range(32, 64)))
    back = Keys(keys.recv, keys.send)
    mod = F if fast else None
    tx = Keypair(keys, suite, local_index=7, remote_index=9, initiator=True, created=0.0, fast=mod)
    rx = Keypair(back, suite, local_index=9, remote_index=7, initiator=False, created=0.0, fast=mod)
    return tx, rx


@built
@pytest.mark.parametrize("suite", SUITES)
@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(0, 65565), max_chunk=st.integers(496, 9000), flags=st.integers(0, 3), start=st.integers(0, 1 << 40)
)
def test_the_sealers_agree(suite: str, n: int, max_chunk: int, flags: int, start: int) -> None:
    frame = random.Random(n).randbytes(n)
    (py, _), (c, _) = _pair(suite, False), _pair(suite, True)
    py.counter = c.counter = start
    try:
        want = py.seal_frame(frame, max_chunk, flags)
    except ValueError:
        with pytest.raises(ValueError):
            c.seal_frame(frame, max_chunk, flags)
        return
    assert c.seal_frame(memoryview(frame), max_chunk, flags) == want
    assert (c.counter, c.sent_bytes) == (py.counter, py.sent_bytes)


def _mangle(rng: random.Random, buf: bytearray, seg: int) -> tuple[bytearray, int]:
    kind = rng.randrange(6)
    if kind == 0 and buf:
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    elif kind == 1:
        del buf[rng.randrange(len(buf) + 1) :]
    elif kind == 2 and len(buf) > 16:
        o = rng.randrange(0, len(buf) - 16)
        buf[o : o + 16] = rng.randbytes(16)
    elif kind == 3:
        seg = max(1, seg + rng.randrange(-40, 40))
    elif kind == 4:
        buf += rng.randbytes(rng.randrange(64))
    return buf, seg


@built
@pytest.mark.parametrize("suite", SUITES)
def test_opening_runs_and_datagrams_agrees(suite: str) -> None:
    """Random frames sealed, then delivered whole, replayed or mangled: the same frames and verdicts."""
    rng = random.Random(16)
    (tx, _), (_, py_rx), (_, c_rx) = _pair(suite, False), _pair(suite, False), _pair(suite, True)
    sent: list[tuple[bytearray, int]] = []
    for _ in range(400):
        if sent and rng.random() < 0.3:
            buf, seg = rng.choice(sent)  # a replay
            buf = bytearray(buf)
        else:
            buf, seg = tx.seal_frame(rng.randbytes(rng.choice([0, 30, 1400, 3000, 20000])), 1440, rng.randrange(2))
            sent.append((bytearray(buf), seg))
        if rng.random() < 0.5:
            buf, seg = _mangle(rng, buf, seg)
        view = memoryview(buf)
        _run_both(view, seg, py_rx, c_rx)
        for o in range(0, len(buf), seg):
            _open_both(view[o : o + seg], py_rx, c_rx, expired=rng.random() < 0.05)
        assert py_rx.replay.last == c_rx.replay.last


def _run_both(view: memoryview, seg: int, py: Keypair, c: Keypair) -> None:
    if len(view) < W.DATA_OVERHEAD or seg < W.DATA_OVERHEAD:
        assert c.fast.open_run(view, 0, seg) is None
        return
    _, flags, fidx, fcnt, receiver, counter = W.DATA_HEADER.unpack_from(view)
    end = fcnt * seg
    ok = view[0] == W.MSG_DATA and fidx == 0 and fcnt > 1 and end - seg < len(view) and not flags & ~W.FLAGS_KNOWN
    want = _open_frames(view, 0, seg, min(end, len(view)), fcnt, receiver, counter, flags, py) if ok else None
    assert c.fast.open_run(view, 0, seg) == want


def _open_both(d: memoryview, py: Keypair, c: Keypair, expired: bool) -> None:
    if len(d) < W.DATA_OVERHEAD:
        with pytest.raises(ValueError):
            c.fast.open(d, expired)
        return
    counter = W.DATA_HEADER.unpack_from(d)[5]
    got = c.fast.open(d, expired)
    if not py.replay.check(counter):
        assert FAST_DROPS[got] == FAST_DROPS[1]
        return
    if expired:
        assert got == 2
        return
    try:
        want = py.decrypt(W.nonce96(counter), d[16:], d[:16])
    except Exception:
        assert got == 3
        return
    assert py.replay.commit(counter) and got == want


@built
@pytest.mark.parametrize("suite", SUITES)
def test_both_sides_of_the_small_message_threshold_agree(suite: str) -> None:
    """Messages of at most fast.SMALL bytes take libsodium where it loads (sodium.c), larger ones OpenSSL: the
    same bytes either way, and a forged tag is a decrypt verdict on both sides of the threshold."""
    assert F is not None
    (py, _), (c, _) = _pair(suite, False), _pair(suite, True)
    (_, c_rx), (_, py_rx), (_, c_forged_rx) = _pair(suite, True), _pair(suite, False), _pair(suite, True)
    for n in (0, 1, F.SMALL - 1, F.SMALL, F.SMALL + 1, 2 * F.SMALL):
        frame = random.Random(n).randbytes(n)
        want = py.seal_frame(frame, 1400, 0)
        assert c.seal_frame(frame, 1400, 0) == want, n
        d = bytes(want[0])
        assert (
            c_rx.fast.open(d, False)
            == frame
            == py_rx.decrypt(W.nonce96(W.DATA_HEADER.unpack_from(d)[5]), d[16:], d[:16])
        )
        forged = bytearray(d)
        forged[-1] ^= 1
        assert c_forged_rx.fast.open(bytes(forged), False) == 3, n  # tl_verdict TL_DECRYPT


@built
def test_libsodium_is_used_where_the_system_has_it() -> None:
    import ctypes.util

    assert F is not None
    assert F.SODIUM is (ctypes.util.find_library("sodium") == "libsodium.so.23")
