"""wheel and sdist: `python -m build` in a clean clone makes both; the sdist holds every tracked file and its
unit tier passes when run from the unpacked sdist; the wheel installed into a clean venv (Debian's python3,
dependencies from the package index) gives a working `tapliance`. About a minute; no root needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable

pytestmark = pytest.mark.slow


def run(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=900)
    assert r.returncode == 0, f"{' '.join(argv)}: exit {r.returncode}\n{r.stdout[-4000:]}{r.stderr[-4000:]}"
    return r.stdout


def test_build_sdist_and_wheel_then_install_the_wheel_in_a_clean_venv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clone = tmp_path / "clone"
    run("git", "clone", "-q", "--no-hardlinks", str(REPO), str(clone))
    t0 = time.monotonic()
    run(sys.executable, "-m", "build", "--outdir", str(tmp_path / "dist"), str(clone))
    t_build = time.monotonic() - t0
    (sdist,) = (tmp_path / "dist").glob("tapliance-*.tar.gz")
    (wheel,) = (tmp_path / "dist").glob("tapliance-*.whl")  # cp311-...-linux_*: with the compiled data path

    # the sdist: every tracked file (a symlinked directory arrives as the directory), and tests/unit passes in it
    top = sdist.name.removesuffix(".tar.gz")
    with tarfile.open(sdist) as tf:
        members = {m.name.removeprefix(f"{top}/") for m in tf.getmembers()}
        tf.extractall(tmp_path / "sdist")  # our own archive (3.11.2 has no extraction filters yet)
    tracked = run("git", "ls-files", cwd=clone).split()
    missing = [f for f in tracked if f not in members and not (clone / f).is_dir()]
    assert missing == [], f"not in the sdist: {missing}"
    unpacked = tmp_path / "sdist" / top
    env = {**os.environ, "PYTHONPATH": str(unpacked), "PYTHONDONTWRITEBYTECODE": "1"}
    t1 = time.monotonic()
    # the sdist carries the C sources of the compiled data path: built in place, as pip would build it
    run(sys.executable, "setup.py", "-q", "build_ext", "--inplace", cwd=unpacked, env=env)
    out = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit", cwd=unpacked, env=env)
    t_unit = time.monotonic() - t1
    assert " passed" in out.splitlines()[-1] and "failed" not in out.splitlines()[-1], out[-2000:]

    # the wheel, in a clean venv of Debian's interpreter
    t2 = time.monotonic()
    venv = tmp_path / "venv"
    run(PYTHON, "-m", "venv", str(venv))
    run(str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel))
    t_install = time.monotonic() - t2
    help_ = run(str(venv / "bin" / "tapliance"), "--help", cwd=tmp_path)
    assert help_.startswith("usage: tapliance") and "check-config" in help_
    key = run(str(venv / "bin" / "tapliance"), "genkey", cwd=tmp_path)
    pub = subprocess.run(
        [str(venv / "bin" / "tapliance"), "pubkey"], input=key, capture_output=True, text=True, check=True
    ).stdout
    assert len(pub.strip()) == 44
    code = "import tapliance.control as c, pathlib; print(pathlib.Path(c.__file__).parent / 'web/index.html')"
    web = run(str(venv / "bin" / "python"), "-c", code, cwd=tmp_path)
    assert Path(web.strip()).is_file() and str(venv) in web
    fast = run(str(venv / "bin" / "python"), "-c", "import tapliance.fastpath as f; print(f.fast is not None)")
    assert fast.strip() == "True", "the wheel should carry the compiled data path (gcc, python3-dev, libssl-dev here)"
    with capsys.disabled():
        print(
            f"\n{sdist.name} + {wheel.name}: python -m build {t_build:.0f} s, tests/unit from the sdist "
            f"{t_unit:.0f} s ({out.splitlines()[-1].strip()}), clean venv + pip install of the wheel {t_install:.0f} s"
        )
