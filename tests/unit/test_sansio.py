"""The protocol core stays sans-IO: no module under tapliance/proto or tapliance/suites imports I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FORBIDDEN = {
    "socket",
    "os",
    "fcntl",
    "select",
    "selectors",
    "asyncio",
    "threading",
    "time",
    "pyroute2",
    "subprocess",
    "signal",
    "random",
    "logging",
    "io",
    "pathlib",
    "ctypes",
    "mmap",
    "multiprocessing",
    "importlib",
}
ROOT = Path(__file__).resolve().parents[2] / "tapliance"
FILES = sorted([*ROOT.joinpath("proto").rglob("*.py"), *ROOT.joinpath("suites").rglob("*.py")])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_io_imports(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for n in names:
            assert n.split(".")[0] not in FORBIDDEN, f"{path.name} imports {n}"


def test_files_found() -> None:
    assert len(FILES) >= 25
