"""Tiers by folder: every test under tests/<tier>/ carries the mark <tier> (pyproject's markers).

`pytest -m unit` (or `make test-fast`, unit + component) then selects by the same line the
folders draw; a module that marks itself with another tier is refused, so a mark never lies.
"""

from pathlib import Path

import pytest

pytest_plugins = ["tests.support.plugin"]

TIERS = ("unit", "component", "integration", "browser", "fuzz", "chaos")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).parent.name
        if tier not in TIERS:
            continue
        others = {m.name for m in item.iter_markers() if m.name in TIERS} - {tier}
        if others:
            raise pytest.UsageError(f"{item.nodeid} is in tests/{tier} but marked {others}")
        item.add_marker(getattr(pytest.mark, tier))
