"""One turn, followed: its correlation id in the gateway's log, the dialog's log and the
transcript row, one trace id across the hops, and the metrics it moved on /metrics."""

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
import websocket
from prometheus_client.parser import text_string_to_metric_families

from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject, new_project

from . import besser, typed, xparo

T = TypeVar("T")
WAIT_S = 20.0


@pytest.fixture(scope="module")
def observed(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every service logging JSON at DEBUG (where each hop logs its line)."""
    env = {"LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)  # the dialog replica takes only the backends' env
        running = Stack(backends, tmp_path_factory.mktemp("logs"), gateway_env=env, service_env=env)
        running.start(dialogs=1, telemetry=1, schedules=1, media=1)
    yield running
    running.stop()


def _until(found: Callable[[], T | None], what: str) -> T:
    """Poll `found` until it returns something (the services write asynchronously)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = found()
        if value is not None:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never saw {what}")


def _lines(stack: Stack, name: str) -> list[dict[str, Any]]:
    """The JSON lines of one service's log (a line that is no JSON fails the test)."""
    text = (Path(stack.log_dir) / f"{name}.log").read_text(errors="replace")
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _with(stack: Stack, name: str, correlation: str, event: str) -> dict[str, Any] | None:
    for line in _lines(stack, name):
        if line.get("correlation_id") == correlation and str(line.get("event", "")).startswith(
            event
        ):
            return line
    return None


def _transcript(backends: Backends, project: UUID, session: str) -> asyncpg.Record | None:
    async def query() -> asyncpg.Record | None:
        conn = await asyncpg.connect(backends.database_url)
        try:
            return await conn.fetchrow(
                "SELECT correlation_id, turn_event_id FROM dialog.turns"
                " WHERE project_key = $1 AND session_id = $2",
                project,
                session,
            )
        finally:
            await conn.close()

    return asyncio.run(query())


def test_one_turn_is_followed_by_its_correlation_id(observed: Stack, backends: Backends) -> None:
    """The transcript row's correlation id is on the gateway's publish and delivery lines and
    on the dialog's handling line, and all three carry one trace id."""
    project = new_project(backends)
    session = f"obs-{uuid4().hex}"
    ws = xparo.connect(observed.ws_url(project, query=f"session_id={session}"))
    assert xparo.ask(ws, "hello")
    ws.close()
    row = _until(lambda: _transcript(backends, project.key, session), "the transcript row")
    correlation = str(row["correlation_id"])
    published = _until(
        lambda: _with(observed, "gateway-1", correlation, "publishing chat.turn"),
        "the gateway publishing the turn",
    )
    handled = _until(
        lambda: _with(observed, "dialog-1", correlation, "handling chat.turn"),
        "the dialog handling the turn",
    )
    delivered = _until(
        lambda: _with(observed, "gateway-1", correlation, "delivering reply"),
        "the gateway delivering the reply",
    )
    assert published["event_id"] == str(row["turn_event_id"]) == handled["event_id"]
    assert published["service"] == "gateway" and handled["service"] == "dialog"
    assert len(published["trace_id"]) == 32
    assert published["trace_id"] == handled["trace_id"] == delivered["trace_id"]
    assert handled["span_id"] != published["span_id"]


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _metrics(port: int) -> Samples:
    """Every sample /metrics answers, by name and labels (Prometheus' text format)."""
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _moved(port: int, before: Samples, name: str) -> Samples | None:
    """The samples of `port` once `name` (protocol xparo) went past its value in `before`."""
    now = _metrics(port)
    moved = _value(now, name, protocol="xparo") > _value(before, name, protocol="xparo")
    return now if moved else None


def _turn(stack: Stack, project: TestProject) -> None:
    ws = xparo.connect(stack.ws_url(project))
    assert xparo.ask(ws, "hello")
    open_now = _metrics(stack.gateway.port)
    assert _value(open_now, "switchboard_connections", protocol="xparo") >= 1
    ws.close()


def test_metrics_move_with_a_turn(observed: Stack, backends: Backends) -> None:
    """After a turn, the gateway's turn-latency count and frame counters and the dialog's
    handle-time count went up, and every service answers /metrics with its pools and lag."""
    project = new_project(backends)
    gateway, dialog = observed.gateway.port, observed.dialogs[0].port
    before, dialog_before = _metrics(gateway), _metrics(dialog)
    _turn(observed, project)
    after = _until(lambda: _moved(gateway, before, "switchboard_turn_seconds_count"), "latency")
    for counter in ("switchboard_frames_in_total", "switchboard_frames_out_total"):
        assert _value(after, counter, protocol="xparo") > _value(before, counter, protocol="xparo")
    dialog_after = _metrics(dialog)
    handled = sum(
        v for (n, _), v in dialog_after.items() if n.endswith("dialog_turn_seconds_count")
    )
    handled_before = sum(
        v for (n, _), v in dialog_before.items() if n.endswith("dialog_turn_seconds_count")
    )
    assert handled > handled_before
    lag = ("switchboard_consumer_pending", (("consumer", "dialog-p0"), ("stream", "CHAT")))
    # the one replica owns every partition; a scrape whose refresh ran out of time (a loaded
    # machine) leaves the gauge as it was, so the next scrapes are asked too
    _until(lambda: True if lag in _metrics(dialog) else None, "the partition's consumer lag")
    assert (
        _value(after, "switchboard_db_pool_max", pool="asyncpg") > 0
    )  # the gateway's identity pool
    for service in (*observed.telemetry, *observed.schedules, *observed.media):
        samples = _metrics(service.port)
        assert _value(samples, "switchboard_db_pool_max", pool="asyncpg") > 0, service.name


def test_telemetry_counts_the_samples_it_stores(observed: Stack, backends: Backends) -> None:
    """A robot's sample moves switchboard_telemetry_samples_stored_total on telemetry."""
    project = new_project(backends)
    port = observed.telemetry[0].port
    before = _value(_metrics(port), "switchboard_telemetry_samples_stored_total")
    robot = typed.connect(observed.typed_url(project, robot="obsbot"))
    typed.send(robot, "telemetry", {"cpu_usage": 12})
    _until(
        lambda: (
            True
            if _value(_metrics(port), "switchboard_telemetry_samples_stored_total") > before
            else None
        ),
        "the sample counted",
    )
    robot.close()


def _refused_once_each(stack: Stack, project: TestProject) -> dict[str, Any]:
    """One frame no protocol can read, on each protocol; what each answered."""
    answers: dict[str, Any] = {}
    ws = xparo.connect(stack.ws_url(project))
    ws.send("not json")
    answers["xparo"] = xparo.recv(ws)
    ws.close()
    ws = typed.connect(stack.typed_url(project))
    ws.send(json.dumps({"type": "no_such_type"}))
    answers["xparo-typed"] = typed.recv(ws)
    ws.close()
    ws = websocket.create_connection(stack.phoenix_url(), timeout=WAIT_S)
    ws.send(json.dumps(["1", "1", "not-a-bot-topic", "phx_join", {}]))
    answers["aida"] = json.loads(ws.recv())
    ws.close()
    ws = besser.connect(stack.besser_url(project))
    ws.send("not json")
    while "error" not in (frame := besser.recv(ws)):
        pass  # the greeting of a new session comes first
    answers["besser"] = frame
    ws.close()
    rsvp = httpx.get(f"{stack.http_url()}/sandbox/chat", timeout=WAIT_S)
    answers["rsvp"] = (rsvp.status_code, rsvp.json())
    return answers


def test_frames_answered_with_an_error_are_counted_per_protocol(
    observed: Stack, backends: Backends
) -> None:
    """A frame each protocol answers with its own error shape moves
    switchboard_frame_errors_total{protocol, kind="invalid"} for that protocol."""
    project = new_project(backends)
    port = observed.gateway.port
    before = _metrics(port)
    answers = _refused_once_each(observed, project)
    assert "error" in answers["xparo"]
    assert answers["xparo-typed"]["type"] == "error"
    assert answers["aida"][3] == "phx_reply" and answers["aida"][4]["status"] == "error"
    assert besser.refusal(answers["besser"]).startswith("a frame is a JSON object")
    assert answers["rsvp"][0] == 400
    after = _metrics(port)
    for protocol in answers:
        counted = _value(after, "switchboard_frame_errors_total", protocol=protocol, kind="invalid")
        was = _value(before, "switchboard_frame_errors_total", protocol=protocol, kind="invalid")
        assert counted == was + 1, protocol
    assert _value(after, "switchboard_frames_in_total", protocol="rsvp") > _value(
        before, "switchboard_frames_in_total", protocol="rsvp"
    )
