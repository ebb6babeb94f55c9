"""The operators' handoff inbox and the fleet overview in the admin API, end to end: a user
asking for a human on each of the five protocols lands in the inbox, an operator's answer takes
it out; alert thresholds kept per project flag the robots whose newest values cross them."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websocket
from nats.aio.client import Client as NatsClient

from shared.contracts import TelemetrySampled, utcnow
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject
from tests.support.telemetry import publish_samples
from tests.support.waits import poll_until, wait_until

from . import besser, xparo
from .admin import admin, handoff, say
from .phoenix import Raw
from .rsvp import rsvp


@pytest.fixture(scope="module")
def stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway, a dialog and a telemetry replica."""
    running = Stack(backends, tmp_path_factory.mktemp("logs"))
    yield running.start(dialogs=1, telemetry=1)
    running.stop()


def inbox(client: httpx.Client, project: TestProject) -> dict[str, dict[str, Any]]:
    answer = client.get(f"/admin/projects/{project.key}/inbox")
    assert answer.status_code == 200, answer.text
    return {i["session"]["session_id"]: i for i in answer.json()["items"]}


def until_in_inbox(client: httpx.Client, project: TestProject, sessions: set[str]) -> Any:
    """The inbox once it holds every one of `sessions` (turns are stored a moment after the
    answer leaves)."""
    deadline = time.monotonic() + 30
    found: dict[str, Any] = {}
    while time.monotonic() < deadline:
        found = inbox(client, project)
        if sessions <= found.keys():
            return found
        time.sleep(0.2)
    raise AssertionError(f"inbox holds {sorted(found)}, not all of {sorted(sessions)}")


def test_a_request_for_a_human_on_every_protocol_reaches_the_inbox(
    stack: Stack, bot: TestProject, admin_token: str
) -> None:
    """ "I want a human" said over RSVP, XPARO, XPARO typed, AIDA and BESSER puts each session
    in the inbox with what was said; greetings do not; an operator's answer takes it out."""
    client = admin(stack, admin_token)
    rsvp(stack, bot, "rsvp-user", "hello")
    rsvp(stack, bot, "rsvp-asker", "can I talk to a human please")

    ws = xparo.connect(stack.ws_url(bot, query="session_id=xparo_asker"))
    xparo.ask(ws, "I want a HUMAN")
    ws.close()

    typed = websocket.create_connection(stack.typed_url(bot, robot="typed-asker"), timeout=20)
    typed.send(json.dumps({"type": "chat", "data": {"message": "get me an operator"}}))
    while json.loads(typed.recv()).get("type") != "chat_response":
        pass
    typed.close()

    raw = Raw(stack.phoenix_url())
    topic = f"bot:{bot.key}"
    join, _ = raw.join(topic, bot.secret)
    aida = str(raw.call(topic, "new_session", {}, join)[4]["response"]["session"])
    raw.send([join, raw.ref(), topic, "utb_msg", {"session": aida, "text": "an agent please"}])
    raw.message(aida)
    raw.close()

    ws = besser.connect(stack.besser_url(bot, query="session_id=besser_asker"))
    besser.send(ws, "user_message", "human!")
    besser.recv(ws)
    ws.close()

    asked = {"rsvp-asker", "xparo_asker", "typed-asker", aida, "besser_asker"}
    found = until_in_inbox(client, bot, asked)
    assert "rsvp-user" not in found
    assert found["rsvp-asker"]["waiting"] is True
    assert found["rsvp-asker"]["reason"] == "said: can I talk to a human please"

    handoff(client, bot, "rsvp-asker", "POST")
    held = inbox(client, bot)["rsvp-asker"]
    assert held["waiting"] is False and held["reason"].startswith("held by ")
    say(client, bot, "rsvp-asker", "Hello, I am Dana. How can I help?")
    handoff(client, bot, "rsvp-asker", "DELETE")
    assert "rsvp-asker" not in inbox(client, bot)


def test_handoff_triggers_are_the_projects_own(
    stack: Stack, bot: TestProject, admin_token: str
) -> None:
    """With the keyword "nurse" as the project's only trigger, "human" no longer raises a
    request and "nurse" does; bad triggers are refused with the field that is wrong."""
    client = admin(stack, admin_token)
    url = f"/admin/projects/{bot.key}/handoff-triggers"
    assert client.get(url).json()["keywords"] == ["human", "operator", "agent"]
    saved = client.put(url, json={"keywords": ["nurse"], "intents": [], "states": []})
    assert saved.status_code == 200, saved.text
    assert client.get(url).json()["keywords"] == ["nurse"]
    refused = client.put(url, json={"keywords": [""]})
    assert refused.status_code == 422
    rsvp(stack, bot, "bed-3", "a human please")
    rsvp(stack, bot, "bed-4", "call the nurse")
    found = until_in_inbox(client, bot, {"bed-4"})
    assert "bed-3" not in found


async def test_fleet_flags_robots_past_the_thresholds(
    stack: Stack, project: TestProject, admin_token: str, nc: NatsClient
) -> None:
    """Thresholds saved for the project flag the robot whose newest battery is under 20 (and
    list it first); the others show their newest metrics without alerts."""
    client = admin(stack, admin_token)
    base = f"/admin/projects/{project.key}"
    rules = {"rules": [{"metric": "battery", "below": 20}, {"metric": "temperature", "above": 70}]}
    assert client.put(f"{base}/alerts", json=rules).status_code == 200
    assert client.get(f"{base}/alerts").json()["rules"][0] == {
        "metric": "battery",
        "above": None,
        "below": 20.0,
    }
    refused = client.put(f"{base}/alerts", json={"rules": [{"metric": "battery"}]})
    assert refused.status_code == 422
    now = utcnow()
    samples = [
        TelemetrySampled.first(
            project_key=project.key, robot_id=robot, received_at=now, metrics=metrics
        )
        for robot, metrics in [
            ("amr-1", {"battery": 88.0, "temperature": 40.0}),
            ("amr-2", {"battery": 12.5, "temperature": 41.0}),
            ("amr-3", {"battery": 64.0}),
        ]
    ]
    await publish_samples(nc.jetstream(), samples)
    fleet: dict[str, Any] = {}

    async def all_three() -> bool:
        nonlocal fleet
        fleet = client.get(f"{base}/fleet").json()
        return len(fleet["robots"]) == 3

    await wait_until(all_three, within_s=30, what="three robots in the fleet", every=0.2)
    assert [r["robot_id"] for r in fleet["robots"]] == ["amr-2", "amr-1", "amr-3"]
    assert fleet["alerting"] == 1
    assert fleet["robots"][0]["alerts"] == [
        {"metric": "battery", "value": 12.5, "above": None, "below": 20.0}
    ]
    assert fleet["robots"][1]["metrics"] == {"battery": 88.0, "temperature": 40.0}
    assert fleet["robots"][1]["alerts"] == []


INTENTS = """
intents:
  - name: complain
    sentences: [I want to make a complaint, this service is terrible, I am not happy with this]
    response: I am sorry to hear that.
  - name: greet
    sentences: [hello, hi there, good morning]
    response: Hello!
"""


def test_a_machine_state_raises_a_request(
    stack: Stack, project: TestProject, admin_token: str
) -> None:
    """With the weather machine and its state ask_city as the trigger: the session asked
    "which city?" waits for a human; the one that was greeted does not."""
    client = admin(stack, admin_token)
    machine = (Path(__file__).parents[2] / "eval" / "weather_machine.yaml").read_bytes()
    saved = client.put(
        f"/admin/projects/{project.key}/machine",
        content=machine,
        headers={"Content-Type": "application/yaml"},
    )
    assert saved.status_code == 200, saved.text
    triggers = {"keywords": [], "intents": [], "states": ["ask_city"]}
    assert client.put(f"/admin/projects/{project.key}/handoff-triggers", json=triggers).is_success
    rsvp(stack, project, "kiosk-1", "weather please")
    rsvp(stack, project, "kiosk-3", "hello")
    found = until_in_inbox(client, project, {"kiosk-1"})
    assert found["kiosk-1"]["reason"] == "state ask_city"
    assert "kiosk-3" not in found


def test_an_intent_raises_a_request(stack: Stack, project: TestProject, admin_token: str) -> None:
    """With the intent complain as the trigger, a complaint waits for a human (the reason names
    the intent); a greeting does not."""
    client = admin(stack, admin_token)
    saved = client.put(
        f"/admin/projects/{project.key}/intents",
        content=INTENTS,
        headers={"Content-Type": "application/yaml"},
    )
    assert saved.status_code == 200, saved.text
    triggers = {"keywords": [], "intents": ["complain"], "states": []}
    assert client.put(f"/admin/projects/{project.key}/handoff-triggers", json=triggers).is_success
    rsvp(stack, project, "desk-1", "I want to make a complaint")
    rsvp(stack, project, "desk-2", "hello")
    found = until_in_inbox(client, project, {"desk-1"})
    assert found["desk-1"]["reason"] == "said: I want to make a complaint (intent complain)"
    assert "desk-2" not in found


FAQ = {
    "groups": [
        {"gid": "hours", "questions": ["When are visiting hours?"], "answer": "**10:00** to 20:00"},
        {"gid": "parking", "questions": ["Where can I park?"], "answer": "Car park B."},
    ]
}


def test_transcripts_say_how_sure_the_bot_was_and_filters_find_the_turns_to_fix(
    stack: Stack, project: TestProject, admin_token: str
) -> None:
    """Each FAQ answer in a transcript names its group, its closest paraphrase and its
    confidence; the list finds sessions with a fallback, with a less sure answer, or held."""
    client = admin(stack, admin_token)
    base = f"/admin/projects/{project.key}"
    assert client.put(f"{base}/faq", json=FAQ).status_code == 200
    rsvp(stack, project, "sure", "When are visiting hours?")
    rsvp(stack, project, "lost", "do you sell umbrellas")
    rsvp(stack, project, "unsure", "visiting hours today")
    handoff(client, project, "lost", "POST")

    def listed(**filters: Any) -> set[str]:
        found = client.get(f"{base}/conversations", params=filters)
        assert found.status_code == 200, found.text
        return {s["session_id"] for s in found.json()["items"]}

    poll_until(
        lambda: listed() == {"sure", "lost", "unsure"},
        within_s=30,
        what="the three sessions listed (their turns stored)",
    )
    answer = client.get(f"{base}/conversations/sure").json()["items"][1]
    assert (answer["engine"], answer["gid"], answer["candidate"]) == (
        "faq",
        "hours",
        "When are visiting hours?",
    )
    assert answer["confidence"] == 1.0 and answer["intent"] is None
    assert listed(engine="fallback") == {"lost"}
    assert listed(engine="faq") == {"sure", "unsure"}
    assert listed(below=0.99) == {"unsure"}
    assert listed(held="true") == {"lost"}
    assert listed(held="false") == {"sure", "unsure"}
    assert client.get(f"{base}/conversations", params={"below": 2}).status_code == 422
