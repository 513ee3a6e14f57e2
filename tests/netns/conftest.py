"""Fixtures for root tests: a unique name prefix per test, and removal of everything made under it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tapliance.lab import netns
from tests.netns.tunnel import TunnelLab


@pytest.fixture
def prefix() -> Iterator[str]:
    """A unique prefix for namespace/interface names; everything under it is removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, TAP devices); run via scripts/test")
    p = netns.unique_prefix()
    try:
        yield p
    finally:
        netns.cleanup(p)
        assert netns.list_ns(p) == [], f"namespaces left behind: {netns.list_ns(p)}"


@pytest.fixture
def lab(prefix: str, tmp_path: Path) -> Iterator[TunnelLab]:
    """Two namespaces on a veth underlay, ready for two `tapliance up` daemons (stopped afterwards)."""
    lab = TunnelLab.build(prefix, tmp_path)
    try:
        yield lab
    finally:
        lab.stop_all()
