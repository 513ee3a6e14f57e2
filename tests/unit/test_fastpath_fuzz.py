"""Memory safety of the compiled data path, tested: tests/fuzz/fuzz_core.c drives every function of
tapliance/fastpath/core.c that reads a received buffer, built with AddressSanitizer and UBSan, for 2 seconds
(a few tens of thousands of inputs; any sanitizer report or broken invariant is a non-zero exit);
tests/fuzz/fuzz_worker.c runs a real worker thread (worker.c, wsend.c) on loopback under mangled GRO batches
and TAP frames, built with ASan and UBSan, and once more with ThreadSanitizer for its locking."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "tapliance" / "fastpath"
HARNESS = ROOT / "tests" / "fuzz" / "fuzz_core.c"
WORKER_HARNESS = ROOT / "tests" / "fuzz" / "fuzz_worker.c"
WORKER_SOURCES = [str(CORE / f"{n}.c") for n in ("core", "sodium", "session", "worker", "wsend", "wrun", "whold")]
SECONDS = 2
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]


needs_cc = pytest.mark.skipif(
    shutil.which("gcc") is None or not Path("/usr/include/openssl/evp.h").exists(),
    reason="no gcc or OpenSSL headers here (scripts/bootstrap installs them)",
)


@needs_cc
def test_the_parser_survives_the_fuzzer_under_asan_and_ubsan(tmp_path: Path) -> None:
    exe = tmp_path / "fuzz_core"
    cc = [
        "gcc",
        "-g",
        "-O1",
        "-Wall",
        "-Wextra",
        "-Werror",
        *SANITIZE,
        f"-I{CORE}",
        str(CORE / "core.c"),
        str(CORE / "sodium.c"),
        str(HARNESS),
    ]
    build = subprocess.run([*cc, "-lcrypto", "-o", str(exe)], capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr
    env = {
        **os.environ,
        "ASAN_OPTIONS": "halt_on_error=1:detect_leaks=1",
        "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
    }
    r = subprocess.run([str(exe), str(SECONDS), "16"], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert r.returncode == 0, r.stderr[-4000:]
    assert "no sanitizer report" in r.stdout
    inputs, runs = int(r.stdout.split()[1]), int(r.stdout.split()[3])
    assert inputs > 1000 and runs > 10, r.stdout  # it reached past the tag check, not only the parser


@needs_cc
@pytest.mark.parametrize(
    ("sanitize", "vnet"),
    [(SANITIZE, "0"), (SANITIZE, "1"), (["-fsanitize=thread"], "1")],
    ids=["asan", "asan-vnet", "tsan"],
)
def test_the_worker_survives_the_fuzzer(tmp_path: Path, sanitize: list[str], vnet: str) -> None:
    exe = tmp_path / "fuzz_worker"
    cc = ["gcc", "-g", "-O1", "-Wall", "-Wextra", "-Werror", "-pthread", *sanitize, f"-I{CORE}", *WORKER_SOURCES]
    build = subprocess.run(
        [*cc, str(WORKER_HARNESS), "-lcrypto", "-o", str(exe)], capture_output=True, text=True, check=False
    )
    assert build.returncode == 0, build.stderr
    env = {
        **os.environ,
        "ASAN_OPTIONS": "halt_on_error=1:detect_leaks=1",
        "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
        "TSAN_OPTIONS": "halt_on_error=1",
    }
    r = subprocess.run(
        [str(exe), str(SECONDS), "11", vnet], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert r.returncode == 0, r.stderr[-4000:]
    assert "no sanitizer report" in r.stdout and not r.stderr, r.stderr[-4000:]
    words = r.stdout.split()
    assert int(words[1]) > 1000 and int(words[3]) > 100, r.stdout  # inputs, frames delivered to the TAP
