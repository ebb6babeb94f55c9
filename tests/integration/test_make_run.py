"""`make run` itself: ready with a URL, the XPARO flow works, Ctrl-C leaves nothing, data stays."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import nats

from shared import subjects
from shared.devstack.demo import read_env_file
from shared.devstack.embedded import free_port, port_free

from . import make_run
from .xparo import ask, connect, recv, save, send


def test_make_run_twice_keeps_aiml_and_conversation(tmp_path: Path) -> None:
    """Ready with the demo key, secret and URL (and the demo FAQ published for RSVP callers);
    Ctrl-C stops every process; the next start still has the saved AIML and the session's
    predicates."""
    data, log = tmp_path / "data", tmp_path / "run.log"
    names = (
        "NATS_PORT",
        "GATEWAY_PORT",
        "DIALOG_PORT",
        "SCHEDULE_PORT",
        "TELEMETRY_PORT",
        "MEDIA_PORT",
        "GATEWAY_BESSER_PORT",
    )
    ports = {name: str(free_port()) for name in names}
    proc = make_run.start(data, ports, log)
    demo = read_env_file(data / "demo-project.env")
    url = (
        f"ws://127.0.0.1:{ports['GATEWAY_PORT']}/chatbot_api/{demo['PROJECT_SECRET']}/"
        f"{demo['PROJECT_KEY']}/"
    )
    assert url in log.read_text() and demo["PROJECT_KEY"] in log.read_text()
    assert demo["ADMIN_TOKEN"] not in log.read_text()
    robots = httpx.get(
        f"http://127.0.0.1:{ports['GATEWAY_PORT']}/admin/projects/{demo['PROJECT_KEY']}/robots",
        headers={"Authorization": f"Bearer {demo['ADMIN_TOKEN']}"},
        timeout=10,
    )
    assert robots.status_code == 200 and robots.json() == {"robots": []}
    console = f"http://127.0.0.1:{ports['GATEWAY_PORT']}/console/"
    assert console in log.read_text()
    page = httpx.get(console, timeout=10)
    assert page.status_code == 200 and "Switchboard" in page.text
    rsvp = httpx.get(
        f"http://127.0.0.1:{ports['GATEWAY_PORT']}/sandbox/chat",
        params={
            "botid": demo["PROJECT_KEY"],
            "token": demo["PROJECT_SECRET"],
            "uid": "demo",
            "q": "What are your opening hours?",
            "stage": "release",
        },
        timeout=10,
    ).json()
    assert rsvp["topic"] == "faq"  # the demo FAQ is seeded and published
    besser = connect(f"ws://127.0.0.1:{ports['GATEWAY_BESSER_PORT']}/")  # as BESSER's UIs do
    greeting = json.loads(besser.recv())
    assert greeting["action"] == "agent_reply_markdown" and "Switchboard" in greeting["message"]
    besser.close()
    ws = connect(url + "?session_id=kept")
    assert ask(ws, "hi") == "Hello! I am the Switchboard demo bot."
    save(
        ws,
        '<category><pattern>MY NAME IS *</pattern><template><think><set name="n"><star/>'
        "</set></think>ok</template></category><category><pattern>WHO AM I</pattern>"
        '<template><get name="n"/></template></category>',
    )
    assert ask(ws, "my name is Bob") == "ok"
    ws.close()
    make_run.stop(proc, data)

    proc = make_run.start(data, ports, log)
    assert read_env_file(data / "demo-project.env") == demo
    ws = connect(url + "?session_id=kept")
    send(ws, {"initialize_api": {}})
    assert "WHO AM I" in recv(ws)["aiml"]
    assert ask(ws, "who am i") == "Bob"
    make_run.stop(proc, data)


def test_make_run_says_what_to_do_when_a_port_is_taken(tmp_path: Path) -> None:
    """A taken port stops the start with a message naming the port and the setting to change."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
        env.update(SWITCHBOARD_DATA=str(tmp_path / "data"), GATEWAY_PORT=str(port))
        done = subprocess.run(
            [sys.executable, "-m", "shared.devstack"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"port {port} is taken" in done.stdout and "GATEWAY_PORT" in done.stdout


def _free_ports(count: int, *, step: int = 1) -> int:
    """A port p with p, p+step, ... (count of them) all free now."""
    for _ in range(50):
        base = free_port()
        if base + step * count < 65000 and all(
            port_free("127.0.0.1", base + n * step) for n in range(count)
        ):
            return base
    raise AssertionError("no run of free ports found")


def test_make_run_with_replicas_and_a_nats_cluster(tmp_path: Path) -> None:
    """GATEWAYS=2 DIALOG=2 NATS_NODES=3: the banner lists both gateways, each replica logs to
    its own file, the streams keep 3 replicas, the second gateway answers, and Ctrl-C stops
    every process."""
    data, log = tmp_path / "data", tmp_path / "run.log"
    ports = {
        "NATS_PORT": str(_free_ports(3)),
        "GATEWAY_PORT": str(_free_ports(2)),
        "GATEWAY_BESSER_PORT": str(_free_ports(2)),
        "DIALOG_PORT": str(_free_ports(2, step=10)),
        **{name: str(free_port()) for name in ("SCHEDULE_PORT", "TELEMETRY_PORT", "MEDIA_PORT")},
    }
    proc = make_run.start(data, {**ports, "GATEWAYS": "2", "DIALOG": "2", "NATS_NODES": "3"}, log)
    try:
        demo = read_env_file(data / "demo-project.env")
        second, besser = int(ports["GATEWAY_PORT"]) + 1, int(ports["GATEWAY_BESSER_PORT"]) + 1
        banner = log.read_text()
        assert f"http://127.0.0.1:{second}/" in banner and f"ws://127.0.0.1:{besser}/" in banner
        logs = {p.name for p in (data / "logs").iterdir()}
        assert {"dialog-1.log", "dialog-2.log", "gateway-1.log", "gateway-2.log"} <= logs
        assert {"nats-1.log", "nats-2.log", "nats-3.log"} <= logs
        assert _chat_replicas(ports["NATS_PORT"]) == 3
        url = f"ws://127.0.0.1:{second}/chatbot_api/{demo['PROJECT_SECRET']}/{demo['PROJECT_KEY']}/"
        ws = connect(url)
        assert ask(ws, "hi") == "Hello! I am the Switchboard demo bot."
        ws.close()
    finally:
        make_run.stop(proc, data)


def _chat_replicas(nats_port: str) -> int:
    async def replicas() -> int:
        nc = await nats.connect(f"nats://127.0.0.1:{nats_port}")
        try:
            info = await nc.jetstream().stream_info(subjects.CHAT_STREAM)
        finally:
            await nc.close()
        return info.config.num_replicas or 1

    return asyncio.run(replicas())
