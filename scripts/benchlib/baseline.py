"""``--baseline COMMIT``: tapliance as of another commit, as one more row of the same run.

The commit's ``tapliance`` package is exported with ``git archive`` into the results directory and run
from there with the repo's venv (``PYTHONPATH`` puts it ahead of the editable install), so both
versions meet the same machine, the same rounds and the same noise: the way to show that a change
did not slow the data path down. Where the commit has the compiled data path (``setup.py``), it is
built in that tree too, so the row runs what that commit's default would run, not the Python path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .lab import BenchError, run
from .tunnels.tapliance import PYTHON, REPO, Tapliance


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
        has_setup = run(["git", "-C", str(REPO), "cat-file", "-e", f"{sha}:setup.py"], check=False).returncode == 0
        paths = ["tapliance", "setup.py"] if has_setup else ["tapliance"]
        tar = run(["git", "-C", str(REPO), "archive", "--format=tar", sha, *paths]).stdout
        run(["tar", "-x", "-C", str(tree)], input=tar)
        if has_setup:  # the compiled data path, as the commit's bootstrap would build it
            p = run([str(PYTHON), "setup.py", "build_ext", "--inplace"], check=False, timeout=300, cwd=tree)
            if p.returncode != 0:
                shutil.rmtree(tree, ignore_errors=True)
                raise BenchError(
                    f"--baseline {commit}: building its compiled data path failed: {p.stderr.decode()[-300:]}"
                )
    return Tapliance("tapliance-baseline", "chacha20-poly1305", tree=tree, commit=sha)
