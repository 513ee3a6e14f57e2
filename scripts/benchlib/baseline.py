"""``--baseline COMMIT``: tapliance as of another commit, as one more row of the same run.

The commit's ``tapliance`` package is exported with ``git archive`` into the results directory and run
from there with the repo's venv (``PYTHONPATH`` puts it ahead of the editable install), so both
versions meet the same machine, the same rounds and the same noise: the way to show that a change
did not slow the data path down.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .lab import BenchError, run
from .tunnels.tapliance import REPO, Tapliance


def tunnel(commit: str, where: Path) -> Tapliance:
    """A Tapliance row running the code of ``commit`` (exported under ``where``)."""
    p = run(["git", "-C", str(REPO), "rev-parse", "--verify", f"{commit}^{{commit}}"], check=False)
    if p.returncode != 0:
        raise BenchError(f"--baseline {commit}: not a commit of this repository")
    sha = p.stdout.decode().strip()
    tree = where / sha[:12]
    if not (tree / "tapliance" / "__init__.py").exists():
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        tar = run(["git", "-C", str(REPO), "archive", "--format=tar", sha, "tapliance"]).stdout
        run(["tar", "-x", "-C", str(tree)], input=tar)
    return Tapliance("tapliance-baseline", "chacha20-poly1305", tree=tree, commit=sha)
