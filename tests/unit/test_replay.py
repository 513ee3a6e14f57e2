"""RFC 6479 replay window: table tests and a model check against a plain set."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapliance.proto.replay import WINDOW, ReplayWindow


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [
        ([0, 1, 2], [True, True, True]),
        ([0, 0], [True, False]),  # duplicate
        ([5, 3, 4, 3], [True, True, True, False]),  # out of order inside the window, then a dup
        ([WINDOW + 10, 9], [True, False]),  # too old: fell out of the window
        ([WINDOW + 10, 11], [True, True]),  # oldest still inside the window
        ([WINDOW + 10, 10], [True, False]),  # exactly at the edge: out
        ([1, 1 << 40, 2], [True, True, False]),  # a huge jump clears everything behind it
        ([64, 63, 127, 128, 0], [True, True, True, True, True]),  # block boundaries
        ([(1 << 64) - 1, (1 << 64) - 1], [True, False]),
    ],
)
def test_table(sequence: list[int], expected: list[bool]) -> None:
    w = ReplayWindow()
    assert [w.commit(c) for c in sequence] == expected


def test_check_does_not_change_state() -> None:
    w = ReplayWindow()
    assert w.check(7)
    assert w.check(7)
    assert w.commit(7)
    assert not w.check(7)


def test_ring_reuse_after_wraparound() -> None:
    w = ReplayWindow()
    for c in range(0, 20 * WINDOW, 61):
        assert w.commit(c)
    assert not w.commit(20 * WINDOW - 61 - (20 * WINDOW - 61) % 61)  # last one committed again


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=4 * WINDOW), max_size=300))
def test_model(counters: list[int]) -> None:
    """Accept iff not seen before and within WINDOW of the highest accepted counter."""
    w = ReplayWindow()
    seen: set[int] = set()
    top = -1
    for c in counters:
        expect = c not in seen and (c > top or top - c < WINDOW)
        assert w.commit(c) == expect, (c, top)
        if expect:
            seen.add(c)
            top = max(top, c)
