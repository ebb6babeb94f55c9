"""XPARO's real robot client dialect (lazyxcientist/xparo_ros2): golden messages, REST twin,
credentials, heartbeats, log sessions, task reports and schedules, end to end."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import websocket

from tests.support.plugin import Stack, TestProject

from .typed import Admin
from .xparo import ask, connect, recv, send

ROBOT_INFO = {
    "hostname": "pulse-panda",
    "os_name": "Linux",
    "cpu_count": 8,
    "total_memory": "15.52 GB",
    "ip_source": "lan",
    "locations": {"latitude": 0, "longitude": 0},
    "data": {"peripherals": {"usb": [{"id": "1", "name": "lidar"}]}},
}


def _device() -> str:
    return str(uuid4())


def _rest(
    stack: Stack, project: TestProject, *, secret: str | None = None, replica: int = 0
) -> str:
    return f"{stack.http_url(replica)}/chatbot_api/{secret or project.secret}/{project.key}/"


def _post(url: str, body: Any) -> dict[str, Any]:
    response = httpx.post(url, json=body, timeout=20)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert isinstance(answer, dict)
    return answer


def test_first_robot_info_gets_a_credential_that_then_opens_the_socket(
    robot_stack: Stack, project: TestProject, admin_token: str
) -> None:
    """ADD_robots_info → ROBOT_CREDENTIAL once per device; the credential works as the path
    secret (WS and REST) and names the robot; revoking it closes that door."""
    device = _device()
    ws = connect(robot_stack.ws_url(project, prefix="/ws"))
    send(ws, {"ADD_robots_info": {**ROBOT_INFO, "device_id": device}})
    credential = recv(ws)["ROBOT_CREDENTIAL"]
    assert isinstance(credential, str) and len(credential) == 64
    send(ws, {"ADD_robots_info": {**ROBOT_INFO, "device_id": device}})
    send(ws, {"ask_bot": "hello?"})
    assert "message" in recv(ws)  # no second credential came before the answer
    ws.close()
    port = robot_stack.gateway.port
    url = f"ws://127.0.0.1:{port}/ws/chatbot_api/{credential}/{project.key}/"
    robot = connect(url)
    admin = Admin(robot_stack.http_url(1), admin_token, project.key)
    sent = admin.queue(
        device, "remote_command", {"command": "RUN_TASK", "parameters": {"task_id": "t9"}}
    )
    assert recv(robot) == {"RUN_TASK": {"task_id": "t9"}}
    assert admin.wait_for(f"/commands/{sent}", lambda b: b["status"] == "delivered")
    reports = admin.wait_for(
        f"/robots/{device}/reports", lambda b: b["reports"], key="ADD_robots_info"
    )
    assert reports["reports"][0]["payload"]["hostname"] == "pulse-panda"
    assert (
        _post(
            _rest(robot_stack, project, secret=credential),
            {"ROBOT_HEARTBEAT": {"device_id": device}},
        )
        == {}
    )
    assert admin.client.delete(f"/robots/{device}/credential").status_code == 204
    try:
        connect(url)
    except websocket.WebSocketBadStatusException as err:
        assert err.status_code == 403
    else:
        raise AssertionError("a revoked credential was accepted")


def test_rest_twin_answers_201_with_dispatch_keys(robot_stack: Stack, project: TestProject) -> None:
    """GET gives the initialize_api document, POST runs the same commands as the socket, 201."""
    url = _rest(robot_stack, project)
    got = httpx.get(url, timeout=20)
    assert got.status_code == 201 and got.json()["status"] is True and "aiml" in got.json()
    assert _post(url, {"initiliaze": True}) == {}  # (sic) the 2023 client's first POST
    assert _post(
        url, {"save_aiml": "<category><pattern>HI</pattern><template>Hey</template></category>"}
    )["save_aiml"]["status"]
    assert _post(url, {"ask_bot": "hi"}) == {"message": {"bot_response": "Hey"}}
    assert _post(
        url, {"ask_bot_api": {"unique_id": "dev-1", "data": {"from robot": "x"}, "question": "HI"}}
    ) == {"message": {"bot_response": "Hey"}}
    assert httpx.post(url, content=b"{nope", timeout=20).status_code == 400
    huge = b'{"ask_bot": "' + b"x" * (1024 * 1024) + b'"}'
    assert httpx.post(url, content=huge, timeout=20).status_code == 413
    assert httpx.get(_rest(robot_stack, project, secret="0" * 64), timeout=20).status_code == 403


def test_heartbeats_keep_a_robot_online_until_it_falls_silent(
    robot_stack: Stack, project: TestProject, admin_token: str
) -> None:
    """The real client's loop (socket open, ROBOT_HEARTBEAT over REST every few seconds) keeps
    the robot online, through the socket closing; once it stops, it goes offline after the
    online window."""
    device = _device()
    ws = connect(robot_stack.ws_url(project, prefix="/ws", query=f"robot_id={device}"))
    url = _rest(robot_stack, project)
    admin = Admin(robot_stack.http_url(0), admin_token, project.key)

    def beat_until(check: Any) -> dict[str, Any]:
        deadline = time.monotonic() + 20
        while True:
            _post(url, {"ROBOT_HEARTBEAT": {"device_id": device, "diagnostics_level": 0}})
            robots: dict[str, dict[str, Any]] = {
                r["robot_id"]: r for r in admin.get("/robots")["robots"]
            }
            if (device in robots and check(robots[device])) or time.monotonic() > deadline:
                return robots[device]
            time.sleep(0.5)  # the client's 30 s heartbeat period, shortened

    assert beat_until(lambda r: r["online"])["online"]
    ws.close()
    closed_at = time.monotonic()
    # heartbeats for longer than the 3 s online window after the socket closed: still online
    last = beat_until(lambda r: time.monotonic() - closed_at > 4)
    assert last["online"] and last["connected"]
    listed = admin.wait_for("/robots", lambda b: not b["robots"][0]["online"], timeout=15)
    assert listed["robots"][0]["robot_id"] == device


def test_log_sessions_are_numbered_and_their_figures_become_telemetry(
    robot_stack: Stack, project: TestProject, admin_token: str
) -> None:
    """ADD_Logs_history_database → log_updated id; UPDATE_ with that id is kept under it and
    its resource figures show up as the robot's latest telemetry."""
    device = _device()
    url = f"{_rest(robot_stack, project)}?robot_id={device}"
    started = _post(
        url,
        {
            "ADD_Logs_history_database": {
                "log_files": {"ros.log": "a"},
                "extra_info": {"event": "session_start"},
                "unique_id": "u1",
            }
        },
    )
    log_id = started["log_updated"]
    update = {
        "id": log_id,
        "log_files": {"ros.log": "b"},
        "resources_consuption": {
            "cpu_avg_percent": 37.5,
            "cpu_cores_percent": [30, 45],
            "ram_used_percent": 61,
            "gpu_percent": None,
            "disk_io": {},
        },
        "extra_info": {"event": "session_end"},
    }
    assert _post(url, {"UPDATE_Logs_history_database": update}) == {}
    admin = Admin(robot_stack.http_url(0), admin_token, project.key)
    kept = admin.wait_for(
        f"/robots/{device}/reports", lambda b: len(b["reports"]) == 2, record_id=log_id
    )
    assert {r["key"] for r in kept["reports"]} == {
        "ADD_Logs_history_database",
        "UPDATE_Logs_history_database",
    }
    latest = admin.wait_for("/telemetry/latest", lambda b: b["samples"], robot_id=device)
    assert latest["samples"][0]["metrics"] == {"cpu_avg_percent": 37.5, "ram_used_percent": 61}


def test_log_sessions_posted_with_the_project_secret_are_filed_under_the_robot(
    robot_stack: Stack, project: TestProject, admin_token: str
) -> None:
    """The robot client's log session over REST with the project secret and no robot_id (as
    xparo_ros2's XP_Database sends it: ADD_ with its device id as `unique_id`, then UPDATE_s
    with only the log id, to any replica) is filed under that robot, not under `default`."""
    device = _device()
    started = _post(
        _rest(robot_stack, project),
        {
            "ADD_Logs_history_database": {
                "log_files": {"log_directory": "/root/.ros/log/x", "new_entries": []},
                "resources_consuption": {"cpu_avg_percent": 12.5, "ram_used_percent": 40},
                "extra_info": {"event": "session_start", "session_start_time": "2026-12-06"},
                "created_at": "2026-12-06T13:00:00",
                "unique_id": device,
            }
        },
    )
    log_id = started["log_updated"]
    other_replica = _rest(robot_stack, project, replica=1)
    update = {
        "id": log_id,
        "log_files": {"log_directory": "/root/.ros/log/x", "new_entries": ["up\n"]},
        "resources_consuption": {"cpu_avg_percent": 37.5, "ram_used_percent": 61},
        "extra_info": {"last_update": "2026-12-06T13:02:00"},
    }
    assert _post(other_replica, {"UPDATE_Logs_history_database": update}) == {}
    end = {"id": log_id, "extra_info": {"event": "session_end", "total_runtime_seconds": 120}}
    assert _post(other_replica, {"UPDATE_Logs_history_database": end}) == {}
    admin = Admin(robot_stack.http_url(0), admin_token, project.key)
    kept = admin.wait_for(
        f"/robots/{device}/reports", lambda b: len(b["reports"]) == 3, record_id=log_id
    )
    assert sorted(r["key"] for r in kept["reports"]) == [
        "ADD_Logs_history_database",
        "UPDATE_Logs_history_database",
        "UPDATE_Logs_history_database",
    ]
    assert admin.get("/robots/default/reports", record_id=log_id)["reports"] == []
    latest = admin.wait_for(
        "/telemetry/latest",
        lambda b: b["samples"] and b["samples"][0]["metrics"]["cpu_avg_percent"] == 37.5,
        robot_id=device,
    )
    assert latest["samples"][0]["robot_id"] == device


def test_task_reports_are_kept_and_acknowledged(
    robot_stack: Stack, project: TestProject, admin_token: str
) -> None:
    """ADD_*_database and task results are acked with task_updated; unknown keys are kept too."""
    device = _device()
    ws = connect(robot_stack.ws_url(project, prefix="/ws", query=f"robot_id={device}"))
    send(
        ws,
        {
            "ADD_Task_history_database": {
                "unique_id": "task-7",
                "type": "bt_task",
                "output_data": {"ok": True},
            }
        },
    )
    assert recv(ws) == {"task_updated": "task-7"}
    send(
        ws,
        {"TASK_RESULT": {"task_id": "t1", "run_id": "r1", "success": True, "outcome": "success"}},
    )
    assert recv(ws) == {"task_updated": "t1"}
    send(
        ws, {"ADD_live_update_bt": {"unique_id": "u", "node_name": "NavigateTo", "curr": "RUNNING"}}
    )
    assert recv(ws) == {"task_updated": "u"}
    send(ws, {"WIFI_SCAN_RESULT": {"networks": ["ward-3"]}, "ask_bot": "still here?"})
    assert "message" in recv(ws)  # the unknown key was taken silently, the socket lives on
    admin = Admin(robot_stack.http_url(0), admin_token, project.key)
    kept = admin.wait_for(f"/robots/{device}/reports", lambda b: len(b["reports"]) == 4)
    assert {r["key"] for r in kept["reports"]} == {
        "ADD_Task_history_database",
        "TASK_RESULT",
        "ADD_live_update_bt",
        "WIFI_SCAN_RESULT",
    }


def test_path_traversal_and_oversized_payloads_are_refused(
    robot_stack: Stack, project: TestProject
) -> None:
    """File names that leave their folder and huge values get an error and are not kept."""
    ws = connect(robot_stack.ws_url(project, prefix="/ws", query="robot_id=r-evil"))
    for frame in (
        {"ADD_Logs_history_database": {"log_files": {"../../etc/passwd": "x"}}},
        {"ADD_Logs_history_database": {"log_files": ["/etc/shadow"]}},
        {
            "save_aiml": {
                "aiml": "<category><pattern>X</pattern><template>y</template></category>",
                "custom_aiml": {"../boot": "x"},
            }
        },
        {"ADD_Sensor_database": {"unique_id": "s", "blob": "x" * 300_000}},
    ):
        send(ws, frame)
        answer = recv(ws)
        assert "error" in answer, (frame, answer)
    assert ask(ws, "alive?")  # still answering


def test_schedules_are_kept_pushed_to_the_robot_and_fired(
    robot_stack: Stack, project: TestProject, admin_token: str
) -> None:
    """Schedule commands answer the robot's schedule, every change is pushed to the connected
    robot (from the socket and the admin API), impossible dates are refused, and a due entry
    fires as a command in the robot client's dispatch-key shape."""
    robot = connect(robot_stack.ws_url(project, prefix="/ws", query="robot_id=sched-1"))
    panel = connect(robot_stack.ws_url(project, query="robot_id=sched-1-panel"))
    send(robot, {"xparo_get_schedule": {}})
    assert recv(robot) == {"schedule_control": {}}
    entry = {"clean_room_4": {"date": "2099-01-01", "time": "09:30"}}
    send(robot, {"xparo_schedule_control": entry})
    answers = [recv(robot), recv(robot)]  # the reply and the pushed schedule, in either order
    assert answers == [{"schedule_control": entry}] * 2
    send(panel, {"xparo_schedule_control": {"bad": {"date": "2026-02-30", "time": "10:00"}}})
    refused = recv(panel)["error"]
    assert (
        refused["command"] == "xparo_schedule_control" and refused["problems"][0]["entry"] == "bad"
    )
    admin = Admin(robot_stack.http_url(1), admin_token, project.key)
    soon = datetime.now(UTC) + timedelta(seconds=2)
    due = {"patrol": {"date": soon.strftime("%Y-%m-%d"), "time": soon.strftime("%H:%M:%S")}}
    cron = {"nightly_report": {"cron": "0 3 * * *", "timezone": "Europe/Berlin"}}
    changed = admin.client.put("/robots/sched-1/schedule", json={**due, **cron})
    assert changed.status_code == 200, changed.text
    assert recv(robot) == {"schedule_control": {**entry, **due, **cron}}
    fired = recv(robot)
    assert fired["patrol"]["entry"] == "patrol"
    assert datetime.fromisoformat(fired["patrol"]["scheduled_for"]) == soon.replace(microsecond=0)
    send(robot, {"xparo_delete_schedule_control": ["clean_room_4", "patrol"]})
    assert recv(robot) == recv(robot) == {"schedule_control": cron}
