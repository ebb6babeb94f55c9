"""Tiers by folder: every test under tests/<tier>/ carries the mark <tier> (pyproject's markers).

`pytest -m unit` (or `make test-fast`, unit + component) then selects by the same line the
folders draw; a module that marks itself with another tier is refused, so a mark never lies.

The modules that take longest run first, so that with two workers (`make test`) none of them
starts last and holds the run up alone while the other worker is idle."""

from pathlib import Path

import pytest

pytest_plugins = ["tests.support.plugin"]

TIERS = ("unit", "component", "contract", "integration", "browser", "fuzz", "chaos")

# The slowest modules (`pytest --durations`), slowest first; every other module follows in
# collection order.
SLOW_FIRST = (
    "test_readme_examples.py",
    "test_admin_api_contract.py",
    "test_console_fleet_scale.py",
    "test_nats_cluster.py",
    "test_chaos.py",
    "test_replicas.py",
    "test_make_run.py",
    "test_service_restarts.py",
    "test_gateway_resume.py",
    "test_bench_cleanup.py",
    "test_secrets_in_logs.py",
    "test_readiness.py",
    "test_shared_brains.py",
)


def _slowness(item: pytest.Item) -> int:
    name = Path(str(item.fspath)).name
    return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_slowness)  # stable: each module's tests keep their order
    for item in items:
        tier = Path(str(item.fspath)).parent.name
        if tier not in TIERS:
            continue
        others = {m.name for m in item.iter_markers() if m.name in TIERS} - {tier}
        if others:
            raise pytest.UsageError(f"{item.nodeid} is in tests/{tier} but marked {others}")
        item.add_marker(getattr(pytest.mark, tier))
