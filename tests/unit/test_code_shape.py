"""The shape the design asks of tapliance/: one concept per file (no file over ~300 lines) and functions
short enough to read at once (none over 60 lines). C (the compiled data path and its fuzz harness): files of
at most 400 lines, functions of at most 60, counted from the line of the signature before the body's opening
brace (on a line of its own, as the code is written) to its closing brace."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "tapliance"
FILES = sorted(ROOT.rglob("*.py"))
MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 60


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_file_and_function_sizes(path: Path) -> None:
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_FILE_LINES, f"{path.name}: split it along its concepts"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{path.name}: {node.name} is {length} lines"


C_FILES = sorted([*ROOT.rglob("*.c"), *ROOT.rglob("*.h"), *(ROOT.parent / "tests" / "fuzz").rglob("*.c")])
MAX_C_FILE_LINES = 400


@pytest.mark.parametrize("path", C_FILES, ids=lambda p: p.name)
def test_c_file_and_function_sizes(path: Path) -> None:
    lines = path.read_text().splitlines()
    assert len(lines) <= MAX_C_FILE_LINES, f"{path.name}: split it along its concepts"
    start = None
    for i, line in enumerate(lines):
        if line == "{":
            start = i - 1  # the signature's (last) line
        elif line == "}" and start is not None:
            assert i - start + 1 <= MAX_FUNCTION_LINES, f"{path.name}: the function ending at line {i + 1} is too long"
            start = None


def test_c_files_are_found() -> None:
    assert {p.name for p in C_FILES} >= {"core.c", "core.h", "module.c", "fuzz_core.c"}
