"""Figure 8: the corpus of malformed configs and key files (tests/corpus) against ``tapliance up``.

Each case must end in exit code 2 with exactly one line on stderr, ``tapliance: ...``, containing the case's
expected text and naming the file at fault, no traceback, and no interface or nftables table left in the
namespace it ran in (tests/corpus/README.md). The same parsing serves tests/unit/test_corpus.py, which runs
``check-config`` on the cases in-process.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .lab import Lab
from .report import Result

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "corpus"
HEADER = re.compile(rb"^# (expect|mode|up-only):? ?(.*)$")
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} tapliance\[\d+\] (DEBUG|INFO|WARNING) ")


@dataclass(frozen=True)
class Case:
    path: Path
    expect: str
    modes: tuple[tuple[str, int], ...] = ()
    up_only: bool = False

    @property
    def name(self) -> str:
        return self.path.stem


def cases(root: Path = CORPUS) -> list[Case]:
    out = []
    for p in sorted((root / "configs").glob("*.toml")):
        expect, modes, up_only = "", [], False
        for line in p.read_bytes().splitlines():
            m = HEADER.match(line)
            if not m:
                break
            kind, value = m.group(1).decode(), m.group(2).decode()
            if kind == "expect":
                expect = value
            elif kind == "mode":
                f, mode = value.split()
                modes.append((f, int(mode, 8)))
            else:
                up_only = True
        out.append(Case(p, expect, tuple(modes), up_only))
    return out


def prepare(dest: Path, root: Path = CORPUS) -> list[Case]:
    """Copy the corpus to ``dest``, key files 0600 unless a case says otherwise; the cases there."""
    shutil.copytree(root, dest, dirs_exist_ok=True)
    for f in (dest / "keys").iterdir():
        f.chmod(0o600)
    found = cases(dest)
    for c in found:
        for name, mode in c.modes:
            (dest / name).chmod(mode)
    return found


def judge(case: Case, rc: int, stderr: str) -> str:
    """'' if the outcome is what the case demands, else what is wrong (one line)."""
    lines = [ln for ln in stderr.splitlines() if not LOG_LINE.match(ln)]  # `up` logs what it made and undid
    if rc != 2:
        return f"exit {rc}"
    if "Traceback" in stderr or len(lines) != 1:
        return f"{len(lines)} lines on stderr besides log lines"
    line = lines[0]
    if not line.startswith("tapliance: "):
        return "not a tapliance error line"
    if case.expect not in line:
        return f"does not say {case.expect!r}: {line}"
    keys = case.path.parent.parent / "keys"
    paths = [Path(os.path.normpath(p)) for p in re.findall(r"(/[^\s:]+)", line)]
    if case.path not in paths and not any(keys in (p, p.parent) for p in paths):
        return f"names no file: {line}"
    return ""


def _host(lab: Lab) -> str:
    links = lab.sh("x", ["ip", "-o", "link"]).stdout.decode()
    names = sorted(ln.split(":")[1].strip().split("@")[0] for ln in links.splitlines())
    return " ".join(names) + " | " + lab.sh("x", ["nft", "list", "ruleset"]).stdout.decode().strip()


def configs(lab: Lab) -> Result:
    r = Result("configs", "malformed configs and key files (tests/corpus) to `tapliance up`",
               ">= 50 one-line errors naming file and key, exit 2, 0 tracebacks, 0 leftovers")  # fmt: skip
    found = prepare(lab.dir / "corpus")
    before = _host(lab)
    env = {**os.environ, "TAPLIANCE_STATE_DIR": str(lab.dir / "corpus-state")}
    bad, leftovers = {}, []
    for c in found:
        cmd = ["ip", "netns", "exec", lab.ns("x"), sys.executable, "-m", "tapliance.cli", "up", "-c", str(c.path)]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, check=False)
        if why := judge(c, p.returncode, p.stderr):
            bad[c.name] = why
        if _host(lab) != before:
            leftovers.append(c.name)
    ok = len(found) - len(bad)
    r.details = {"cases": len(found), "failed": bad, "leftovers": leftovers}
    r.measured = f"{ok}/{len(found)} cases as required; {len(leftovers)} left something behind"
    r.passed = len(found) >= 50 and not bad and not leftovers
    return r
