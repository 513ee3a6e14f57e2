"""Test tiers: tests/unit (no root), tests/netns (root: namespaces, TAP, nftables), tests/ansible."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.fspath)
        if "/tests/netns/" in path:
            item.add_marker(pytest.mark.netns)
        elif "/tests/ansible/" in path:
            item.add_marker(pytest.mark.ansible)
