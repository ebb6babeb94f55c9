"""Tiers by folder: tests/unit, tests/component, tests/integration (see pyproject markers).

The modules that take longest run first, so that with two workers (`make test`) none of them
starts last and holds the run up alone while the other worker is idle."""

from pathlib import Path

import pytest

pytest_plugins = ["shared.testing.plugin"]

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
        if tier in {"unit", "component", "integration"}:
            item.add_marker(getattr(pytest.mark, tier))
