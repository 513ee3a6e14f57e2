"""The write-ahead journal: append persists at once, truncate removes the file when empty, bad files fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapliance.net import journal as J
from tapliance.net.errors import NetError


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(J.STATE_DIR_ENV, str(tmp_path / "state"))
    monkeypatch.setattr(J, "netns_tag", lambda: "")  # as in the host's own namespace
    return tmp_path / "state"


def test_append_is_visible_to_a_new_reader_and_truncate_removes_the_file(state: Path) -> None:
    j = J.Journal("tap0")
    assert j.records == [] and not j.path.exists()
    j.append({"op": "sysctl", "path": "net/ipv4/ip_forward", "old": "0"})
    j.append({"op": "nft_table", "name": "t"})
    assert j.path == state / "tap0.net.json"
    assert J.Journal("tap0").records == j.records
    j.truncate(1)
    assert J.Journal("tap0").records == [{"op": "sysctl", "path": "net/ipv4/ip_forward", "old": "0"}]
    j.truncate(0)
    assert not j.path.exists()


def test_default_state_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(J.STATE_DIR_ENV)
    assert J.state_dir() == Path("/run/tapliance")


@pytest.mark.parametrize("content", ["{", '{"version": 99, "records": []}', "[]"])
def test_a_corrupt_journal_is_a_runtime_error_naming_the_file(state: Path, content: str) -> None:
    state.mkdir()
    (state / "tap0.net.json").write_text(content)
    with pytest.raises(NetError) as e:
        J.Journal("tap0")
    assert e.value.exit_code == 1 and str(state / "tap0.net.json") in str(e.value)


def test_lock_can_be_taken_again_after_release(state: Path) -> None:
    with J.locked():
        pass
    with J.locked():
        assert (state / "net.lock").exists()


def test_others_lists_the_other_interfaces_of_this_namespace_only(state: Path) -> None:
    for name in ("tap0", "tap1"):
        J.Journal(name).append({"op": "nft_table", "name": f"tapliance_{name}"})
    state.joinpath("tap2@otherns.net.json").write_text('{"version": 1, "records": []}')
    assert [j.interface for j in J.others("tap0")] == ["tap1"]
