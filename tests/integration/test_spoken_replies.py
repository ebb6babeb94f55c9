"""Spoken replies end to end through BESSER's protocol: a state's `audio` item, or the bot
property speak_replies, makes the media service say the text (espeak-ng) and the client gets
agent_reply_audio as BESSER's reply_speech sends it (float32 samples, dtype, shape, rate);
a state's `rag` item answers from the documents; bad items are refused where they are."""

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject

from .besser import connect, recv_n, send

SAID = "The museum opens at nine in the morning."


@pytest.fixture(scope="module")
def stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway (with its BESSER port), a dialog and a media replica."""
    running = Stack(backends, tmp_path_factory.mktemp("logs")).start(dialogs=1, media=1)
    yield running
    running.stop()


def admin(stack: Stack, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=stack.http_url(), headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def put_machine(client: httpx.Client, project: TestProject, machine: Any) -> httpx.Response:
    return client.put(f"/admin/projects/{project.key}/machine", json=machine)


def samples_of(frame: dict[str, Any]) -> np.ndarray[Any, Any]:
    """The audio of an agent_reply_audio frame, checked to be what BESSER's UIs rebuild."""
    assert frame["action"] == "agent_reply_audio", frame
    message = frame["message"]
    metadata = message["metadata"]
    assert metadata["dtype"] == "float32" and metadata["sample_rate"] == 16000
    samples = np.frombuffer(base64.b64decode(message["audio_data_base64"]), dtype="<f4")
    assert list(metadata["shape"]) == [len(samples)]
    return samples


def test_an_audio_item_is_spoken_after_the_text(
    stack: Stack, project: TestProject, admin_token: str
) -> None:
    """The state's text comes as agent_reply_str, then its audio item as a second or more of
    speech in agent_reply_audio."""
    machine = {"initial": "start", "states": {"start": {"body": [{"text": SAID}, {"audio": SAID}]}}}
    with admin(stack, admin_token) as client:
        assert put_machine(client, project, machine).status_code == 200
    ws = connect(stack.besser_url(project))
    text, audio = recv_n(ws, 2)
    assert (text["action"], text["message"]) == ("agent_reply_str", SAID)
    samples = samples_of(audio)
    assert len(samples) > 16000 and np.abs(samples).max() > 0.05
    ws.close()


def test_speak_replies_speaks_every_answer(
    stack: Stack, project: TestProject, admin_token: str
) -> None:
    """With the bot property speak_replies:true, an AIML answer comes as text and as speech."""
    aiml = f"<category><pattern>WHEN DO YOU OPEN</pattern><template>{SAID}</template></category>"
    with admin(stack, admin_token) as client:
        put = client.put(f"/admin/projects/{project.key}/aiml", content=aiml)
        assert put.status_code == 200, put.text
        props = client.put(
            f"/admin/projects/{project.key}/properties", content="speak_replies:true"
        )
        assert props.status_code == 200, props.text
    ws = connect(stack.besser_url(project))
    send(ws, "user_message", "when do you open")
    text, audio = recv_n(ws, 2)
    assert (text["action"], text["message"]) == ("agent_reply_str", SAID)
    assert len(samples_of(audio)) > 16000
    ws.close()


def test_a_rag_item_answers_from_the_documents(
    stack: Stack, project: TestProject, admin_token: str
) -> None:
    """A state whose body has `rag: "{message}"` answers the message from the documents."""
    doc = "## Parking\n\nThe car park closes at midnight and opens at seven."
    machine = {
        "initial": "start",
        "states": {
            "start": {"transitions": [{"when": "no_intent_matched", "to": "answer"}]},
            "answer": {
                "body": [{"text": "From our handbook:"}, {"rag": "{message}"}],
                "transitions": [{"when": "auto", "to": "start"}],
            },
        },
    }
    with admin(stack, admin_token) as client:
        put = client.put(
            f"/admin/projects/{project.key}/documents/handbook.md",
            content=doc,
            headers={"Content-Type": "text/markdown"},
        )
        assert put.status_code == 200, put.text
        put = put_machine(client, project, machine)
        assert put.status_code == 200, put.text
    ws = connect(stack.besser_url(project))
    send(ws, "user_message", "when does the car park close")
    intro, rag = recv_n(ws, 2)
    assert intro["message"] == "From our handbook:"
    assert rag["action"] == "agent_reply_rag", rag
    assert rag["message"]["docs"][0]["metadata"] == {"source": "handbook.md", "page": 1}
    assert "midnight" in rag["message"]["answer"]
    ws.close()


def test_bad_audio_and_rag_items_are_refused_where_they_are(
    stack: Stack, project: TestProject, admin_token: str
) -> None:
    """An empty audio text or a rag item that is no string is a 422 naming the item."""
    body = [{"audio": ""}, {"rag": {"question": "x"}}]
    machine = {"initial": "start", "states": {"start": {"body": body}}}
    with admin(stack, admin_token) as client:
        refused = put_machine(client, project, machine)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    where = {p["item"]: p["message"] for p in problem["problems"]}
    assert "at least 1 character" in where["states.start.body[0].audio.audio"], problem
    assert "valid string" in where["states.start.body[1].rag.rag"], problem
