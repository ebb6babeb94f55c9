"""The console with a fleet's worth of telemetry: 50 robots that sent 3 metrics at 1 Hz for an
hour (180,000 samples, published with their real times in a few seconds): the fleet overview
lists them all and follows a new sample live, and each window's chart of a robot's hour is
drawn. How long each took is printed (run with -s), not asserted: speed targets live in
benchmarks, and a shared CI machine would make a timed assertion flaky."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from playwright.async_api import expect

from shared import subjects
from shared.contracts import TelemetrySampled
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject
from tests.support.telemetry import (
    consumer_drained,
    publish_samples,
    simulated_samples,
)
from tests.support.waits import wait_until

from .chat import ChatPage
from .console import (
    signed_in,
    until,
)

ROBOTS, SECONDS = 50, 3600


def equals(expected: str) -> Callable[[Any], bool]:
    return lambda value: bool(value == expected)


@pytest.fixture(scope="module")
def fleet_stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway, a dialog and a telemetry replica."""
    running = Stack(backends, tmp_path_factory.mktemp("logs"))
    yield running.start(dialogs=1, telemetry=1)
    running.stop()


@pytest.mark.timeout(900)
async def test_an_hour_of_fifty_robots_is_listed_followed_and_charted(
    fleet_stack: Stack,
    project: TestProject,
    operator_token: str,
    console: ChatPage,
    nc: NatsClient,
) -> None:
    """50 robots x 1 Hz x 1 hour: the fleet lists all 50, a new sample shows on it by itself,
    and every window of a robot's chart (5 min to 24 h) is drawn (its time is printed)."""
    start = datetime.now(UTC) - timedelta(seconds=SECONDS)
    samples = simulated_samples(project.key, robots=ROBOTS, per_robot=SECONDS, start=start)
    js = nc.jetstream()
    for n in range(0, len(samples), 10_000):
        await publish_samples(js, samples[n : n + 10_000])
    page = console.page
    await signed_in(page, fleet_stack, operator_token, f"#/p/{project.key}/robots")
    await expect(page.locator("#fleet tbody tr")).to_have_count(ROBOTS, timeout=600_000)
    newer = TelemetrySampled.first(
        project_key=project.key,
        robot_id="robot-007",
        received_at=datetime.now(UTC),
        metrics={"cpu_usage": 123.0},
    )
    await publish_samples(js, [newer])
    row = page.locator("#fleet tr[data-robot=robot-007] .mini-stat[data-metric=cpu_usage]")
    await expect(row).to_contain_text("123")

    async def stored() -> bool:  # every sample in Postgres before the charts are timed
        return await consumer_drained(js, subjects.TELEMETRY_STREAM, subjects.TELEMETRY_DURABLE)

    await wait_until(stored, within_s=600, what="every sample stored", every=0.5)
    await page.locator("#fleet tr[data-robot=robot-007] a").click()
    await expect(page.locator(".tile[data-metric=cpu_usage] .tile__value")).to_have_text("123")
    drawn = {}
    for window in ["5 min", "15 min", "1 hour", "6 hours", "24 hours"]:
        await page.evaluate(
            "() => { delete document.getElementById('telemetry-chart').dataset.window; }"
        )
        await page.locator(f".segmented__item[data-window='{window}']").click()
        await until(
            page,
            "() => document.getElementById('telemetry-chart').dataset.window",
            equals(window),
            what=f"the {window} chart",
        )
        took = await page.locator("#telemetry-chart").get_attribute("data-draw-ms")
        assert took is not None, f"the {window} chart was not drawn"
        drawn[window] = int(took)
    print(f"chart query + draw, ms: {drawn}")
