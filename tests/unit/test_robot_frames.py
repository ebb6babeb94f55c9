"""Robot frames: telemetry checks, command frames, behaviour-tree checks, command contracts."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from pydantic import ValidationError

from services.gateway.protocols.xparo.typed import TypedFrameError, command_frame, sample_metrics
from shared import subjects
from shared.contracts import (
    BehaviorUpdate,
    GetTelemetryRange,
    RemoteCommand,
    RestApiToken,
    RobotCommandIssued,
    TelemetrySampled,
)

FRAGMENT = '<Sequence name="go"><NavigateTo goal="{goal}"/><SpeakText text="here"/></Sequence>'
DOCUMENT = (
    '<root BTCPP_format="4" main_tree_to_execute="MainTree"><BehaviorTree ID="MainTree">'
    f"{FRAGMENT}</BehaviorTree></root>"
)


def test_documented_and_extra_numeric_metrics_are_kept() -> None:
    """The three documented metrics and any other numeric ones become floats."""
    assert sample_metrics(
        {"cpu_usage": 42, "memory_usage": 63, "disk_usage": 31, "temp_c": -4.5, "robot_id": "r"}
    ) == {"cpu_usage": 42.0, "memory_usage": 63.0, "disk_usage": 31.0, "temp_c": -4.5}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"cpu_usage": "42"}, "must be a number"),
        ({"cpu_usage": None}, "must be a number"),
        ({"cpu_usage": True}, "must be a number"),
        ({"cpu_usage": [1]}, "must be a number"),
        ({"memory_usage": 100.5}, "percentage"),
        ({"gpu_percent": -0.1}, "percentage"),
        ({"odometer": 1e300}, "finite"),
        ({}, "at least one metric"),
        ({"a b": 1}, "metric names"),
        ({f"m{i}": i for i in range(65)}, "at most 64"),
    ],
)
def test_bad_telemetry_is_refused_with_a_reason(data: dict[str, object], words: str) -> None:
    """Wrong types, out-of-range percentages, odd names and floods are refused, saying why."""
    with pytest.raises(TypedFrameError, match=words):
        sample_metrics(data)


def test_sample_contract_refuses_non_finite_values() -> None:
    """A NaN cannot reach the telemetry stream even if a producer skips the gateway's check."""
    with pytest.raises(ValidationError):
        TelemetrySampled.first(
            project_key=uuid4(),
            robot_id="r1",
            received_at=datetime.now(UTC),
            metrics={"cpu_usage": float("nan")},
        )


def test_command_frames_carry_the_document_fields_and_the_command_id() -> None:
    """remote_command arrives as the document shows, plus command_id; tokens are added."""
    issued = RobotCommandIssued.first(
        project_key=uuid4(),
        robot_id="r1",
        command=RemoteCommand(command="start_navigation", parameters={"goal": "table_4"}),
        issued_by="test",
    )
    assert command_frame(issued) == {
        "type": "remote_command",
        "data": {
            "command": "start_navigation",
            "parameters": {"goal": "table_4"},
            "command_id": str(issued.event_id),
        },
    }
    token = issued.model_copy(update={"command": RestApiToken()})
    assert command_frame(token, token="abc")["data"] == {
        "token": "abc",
        "command_id": str(issued.event_id),
    }


@pytest.mark.parametrize("xml", [FRAGMENT.format(goal="table_4"), DOCUMENT.format(goal="t")])
def test_v4_documents_and_main_tree_fragments_are_accepted(xml: str) -> None:
    """Both a whole BehaviorTree.CPP v4 document and the inside of MainTree are valid."""
    assert BehaviorUpdate(tree_name="MainTree", xml=xml).xml == xml


@pytest.mark.parametrize(
    ("xml", "words"),
    [
        ("<Sequence><A/>", "line 1"),
        ('<root BTCPP_format="4"><BehaviorTree ID="Other"><A/></BehaviorTree></root>', "MainTree"),
        ('<root BTCPP_format="3"><BehaviorTree ID="MainTree"><A/></BehaviorTree></root>', '"4"'),
        ('<root><BehaviorTree ID="MainTree"></BehaviorTree></root>', "no nodes"),
        ("<tree><A/></tree>".replace("tree", "root") + "<extra/>", "malformed"),
        (
            '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            '<root><BehaviorTree ID="MainTree"><A n="&b;"/></BehaviorTree></root>',
            "entities",
        ),
        (
            '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            '<root><BehaviorTree ID="MainTree"><A n="&x;"/></BehaviorTree></root>',
            "entities",
        ),
    ],
)
def test_bad_behavior_trees_are_refused_with_a_reason(xml: str, words: str) -> None:
    """Malformed XML, the wrong version or tree, and entity tricks are refused before sending."""
    with pytest.raises(ValidationError, match=words):
        BehaviorUpdate(tree_name="MainTree", xml=xml)


def test_range_queries_are_bounded() -> None:
    """A range needs time zones, a positive span, and at most 10,000 buckets."""
    start = datetime(2026, 11, 22, tzinfo=UTC)
    naive = start.replace(tzinfo=None)
    ok = {"project_key": uuid4(), "robot_id": "r1", "metric": "cpu_usage"}
    GetTelemetryRange(**ok, start=start, end=start + timedelta(hours=1), bucket_s=60)
    for begin, end, bucket in (
        (start, start, 60),
        (start, start + timedelta(days=1), 1),
        (naive, naive + timedelta(hours=1), 60),
    ):
        with pytest.raises(ValidationError):
            GetTelemetryRange(**ok, start=begin, end=end, bucket_s=bucket)


def test_robot_subjects_refuse_wildcards() -> None:
    """A robot id cannot widen a subject to other robots."""
    project = uuid4()
    assert (
        subjects.robot_command(project=project, robot="r-1") == f"robot.command.{project.hex}.r-1"
    )
    for robot in ("*", ">", "a.b", ""):
        with pytest.raises(ValueError):
            subjects.robot_command(project=project, robot=robot)
