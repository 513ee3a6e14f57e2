"""Build the wheelhouse the Ansible role installs from: tapliance's wheel plus every dependency's wheel.

The role copies this directory to each target and runs ``pip install --no-index --find-links`` there, so
targets need no package index and no compiler (offline VMs included). Built here on the controller:
``python -m pip wheel <source> -w <dir>``.

The tapliance wheel carries the compiled data path (tapliance.fastpath._fast, built by setup.py) where
this machine has gcc, Python's headers and libcrypto's (python3-dev, libssl-dev; scripts/bootstrap installs
them), and is pure Python without them. It is reproducible (SOURCE_DATE_EPOCH pins the zip timestamps, the
source is built from a clean copy so stale build/ directories never leak in, and -ffile-prefix-map keeps that
copy's temporary path out of the compiled module): rebuilding unchanged code gives identical bytes, the
role's copy reports no change, and nothing is reinstalled or restarted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tapliance.lab.inventory import REPO

SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01, the earliest time a zip file can record
SOURCES = ("pyproject.toml", "setup.py", "README.md", "tapliance")


def build(dest: Path, source: Path = REPO) -> list[str]:
    """(Re)build ``dest``; return the wheel file names in it. Raises RuntimeError with pip's output."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tapliance-src-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in SOURCES:
            p = source / name
            if p.is_dir():
                shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so"))
            else:
                shutil.copy2(p, src / name)
        for old in dest.glob("tapliance-*.whl"):
            old.unlink()
        cflags = f"{os.environ.get('CFLAGS', '')} -ffile-prefix-map={src}=.".strip()
        env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        env["CFLAGS"] = cflags
        r = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(dest), str(src)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if r.returncode != 0:
            raise RuntimeError(f"pip wheel failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    return sorted(w.name for w in dest.glob("*.whl"))
