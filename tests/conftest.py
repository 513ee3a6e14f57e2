"""Test tiers: tests/unit (no root), tests/netns (root: namespaces, TAP, nftables), tests/ansible."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis keeps failing examples in .hypothesis/ to replay them next time; a user who cannot write the
# checkout (the unprivileged fast tier in a root-owned clone) runs without that memory instead of with a
# warning per test.
_db = Path(".hypothesis")
if not os.access(_db if _db.exists() else Path.cwd(), os.W_OK):
    settings.register_profile("read-only-checkout", database=None)
    settings.load_profile("read-only-checkout")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.fspath)
        if "/tests/netns/" in path:
            item.add_marker(pytest.mark.netns)
        elif "/tests/ansible/" in path:
            item.add_marker(pytest.mark.ansible)
