"""Tiers by folder: tests/unit, tests/component, tests/integration (see pyproject markers)."""

from pathlib import Path

import pytest

pytest_plugins = ["tests.support.plugin"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).parent.name
        if tier in {"unit", "component", "integration"}:
            item.add_marker(getattr(pytest.mark, tier))
