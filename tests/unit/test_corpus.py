"""The corpus of malformed configs and key files (tests/corpus): `check-config` on each is exit 2, one line
naming the file at fault, no traceback. `scripts/torture` runs `tapliance up` on the same cases as root."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.torturelib import corpus
from tapliance import cli

CASES = corpus.cases()


def test_the_corpus_is_large_enough_and_every_case_says_what_it_expects() -> None:
    assert len(CASES) >= 50
    assert all(c.expect for c in CASES)
    assert len({c.expect for c in CASES}) >= 45  # different mistakes, not one mistake many times


@pytest.mark.parametrize("name", [c.name for c in CASES if not c.up_only])
def test_check_config_refuses_each_case_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    case = next(c for c in corpus.prepare(tmp_path) if c.name == name)
    rc = cli.main(["check-config", "-c", str(case.path)])
    out, err = capsys.readouterr()
    assert out == ""
    assert corpus.judge(case, rc, err) == "", err


def test_judge_wants_the_file_named() -> None:
    case = corpus.Case(Path("/c/configs/01-x.toml"), "tunnel.mtu: bad")
    assert corpus.judge(case, 2, "tapliance: /c/configs/01-x.toml: tunnel.mtu: bad\n") == ""
    assert corpus.judge(case, 2, "tapliance: /c/configs/../keys/k.key: tunnel.mtu: bad\n") == ""
    assert corpus.judge(case, 2, "tapliance: tunnel.mtu: bad\n").startswith("names no file")
    assert corpus.judge(case, 1, "tapliance: /c/configs/01-x.toml: tunnel.mtu: bad\n") == "exit 1"
    assert corpus.judge(case, 2, "Traceback\nx\n") == "2 lines on stderr besides log lines"
    logged = "2026-12-01 09:49:55,172 tapliance[2816] INFO created TAP tc0 (offloads 0x6f)\n"
    assert corpus.judge(case, 2, logged + "tapliance: /c/configs/01-x.toml: tunnel.mtu: bad\n" + logged) == ""
