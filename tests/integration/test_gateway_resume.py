"""A stopped gateway's clients reconnect to another replica and get every reply once, in order."""

import asyncio
import signal
from collections.abc import Iterator

import httpx
import nats
import pytest
import websocket
from nats.js.api import ConsumerConfig, DeliverPolicy

from shared import subjects
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject
from tests.support.waits import wait_until

from . import phoenix, typed, xparo

ECHO_AIML = "<category><pattern>SAY *</pattern><template><star/></template></category>"


@pytest.fixture
def two_gateways(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two gateways (commands answer without waiting for the bot, RSVP.ai callers wait 2 s)
    and one dialog replica."""
    gateway = {"GATEWAY_REPLY_WAIT_S": "0.2", "GATEWAY_RSVP_WAIT_S": "2"}
    running = Stack(backends, tmp_path_factory.mktemp("logs"), gateway_env=gateway)
    yield running.start(dialogs=1, gateways=2)
    running.stop()


async def _stored(nats_url: str, subject: str) -> int:
    """How many messages the CHAT stream holds on `subject`."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=5.0)
        sub = await js.pull_subscribe(subject, stream=subjects.CHAT_STREAM, config=config)
        info = await sub.consumer_info()
        await sub.unsubscribe()
        return int(info.num_pending or 0)
    finally:
        await nc.close()


def _wait_stored(stack: Stack, subject: str, count: int) -> None:
    async def enough() -> bool:
        return await _stored(stack.backends.nats_url, subject) >= count

    asyncio.run(wait_until(enough, within_s=30, what=f"{count} messages on {subject}"))


def _closed(ws: websocket.WebSocket) -> int | None:
    """The close code the server ends the socket with (frames before it are skipped)."""
    while True:
        opcode, frame = ws.recv_data_frame(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(frame.data[:2], "big")


def _nothing_more(ws: websocket.WebSocket) -> None:
    ws.settimeout(1.0)
    with pytest.raises(websocket.WebSocketTimeoutException):
        ws.recv()


def test_replies_published_while_clients_move_to_another_gateway_arrive_once_in_order(
    two_gateways: Stack, project: TestProject
) -> None:
    """Turns accepted by a gateway that is then stopped are answered while its clients are away;
    each client, reconnecting to the other replica with its session, gets those answers once and
    in order, then talks on as before. XPARO's command API and its typed API."""
    stack = two_gateways
    setup = xparo.connect(stack.ws_url(project, replica=1))
    assert xparo.save(setup, ECHO_AIML)["save_aiml"]["status"] is True
    setup.close()
    command = xparo.connect(stack.ws_url(project, query="session_id=resume-cmd"))
    robot = typed.connect(stack.typed_url(project, robot="resume-bot"))
    stack.dialogs[0].stop()  # the answers come only after the clients have gone

    for n in ("one", "two", "three"):
        xparo.send(command, {"ask_bot": f"say {n}"})
        typed.send(robot, "chat", {"message": f"say {n}"})
    _wait_stored(stack, subjects.chat_project_turns(project.key), 6)
    stack.gateways[0].stop(signal.SIGTERM)
    assert _closed(command) == _closed(robot) == 1012  # "service restart": reconnect

    stack.dialogs[0].start()
    for session in ("resume-cmd", "resume-bot"):
        _wait_stored(stack, subjects.chat_reply(project=project.key, session=session), 3)

    command = xparo.connect(stack.ws_url(project, query="session_id=resume-cmd", replica=1))
    assert [xparo.recv(command)["message"]["bot_response"] for _ in range(3)] == [
        "one",
        "two",
        "three",
    ]
    _nothing_more(command)
    command.settimeout(xparo.TIMEOUT_S)
    assert xparo.ask(command, "say four") == "four"

    robot = typed.connect(stack.typed_url(project, robot="resume-bot", replica=1))
    answers = [typed.recv(robot) for _ in range(3)]
    assert [a["data"]["response"] for a in answers] == ["one", "two", "three"], answers
    _nothing_more(robot)
    robot.settimeout(typed.TIMEOUT_S)
    assert typed.chat(robot, "say four") == "four"


def _aida(stack: Stack, project: TestProject, *, replica: int) -> tuple[phoenix.Raw, str]:
    """An AIDA socket joined to the project's bot on `replica` (and its join_ref)."""
    client = phoenix.Raw(
        f"ws://127.0.0.1:{stack.gateways[replica].port}/socket/websocket?vsn=2.0.0"
    )
    join_ref, reply = client.join(f"bot:{project.key}", project.secret)
    assert reply[4]["status"] == "ok", reply
    return client, join_ref


def _aida_say(
    client: phoenix.Raw, join_ref: str, project: TestProject, session: str, text: str
) -> None:
    client.send(
        [
            join_ref,
            client.ref(),
            f"bot:{project.key}",
            "utb_msg",
            {"session": session, "text": text},
        ]
    )


def _messages(client: phoenix.Raw, wanted: dict[str, int]) -> dict[str, list[str]]:
    """The texts of btu_msg frames per session until each session has `wanted` of them."""
    heard: dict[str, list[str]] = {session: [] for session in wanted}
    while any(len(heard[s]) < n for s, n in wanted.items()):
        frame = client.until(lambda f: f[3] == "btu_msg" and f[4]["session"] in wanted)
        heard[frame[4]["session"]].append(frame[4]["text"])
    return heard


def _nothing_more_for(client: phoenix.Raw, session: str) -> None:
    """No further btu_msg of `session` within a second (other frames are skipped)."""
    client.ws.settimeout(1.0)
    with pytest.raises(websocket.WebSocketTimeoutException):
        client.until(lambda f: f[3] == "btu_msg" and f[4]["session"] == session)
    client.ws.settimeout(phoenix.TIMEOUT_S)


def test_aida_users_of_one_bot_each_get_their_answers_after_their_gateway_stops(
    two_gateways: Stack, project: TestProject
) -> None:
    """Two AIDA users share a bot on a gateway that is stopped while their questions wait for
    the bot. One comes back to the other replica first and is sent the bot's answers as they
    come (AIDA sends a bot's messages to every socket); the other, coming back later, still gets
    its own answers once and in order, then both talk on."""
    stack = two_gateways
    setup = xparo.connect(stack.ws_url(project, replica=1))
    assert xparo.save(setup, ECHO_AIML)["save_aiml"]["status"] is True
    setup.close()
    topic = f"bot:{project.key}"
    (first, first_ref), (late, late_ref) = (
        _aida(stack, project, replica=0),
        _aida(stack, project, replica=0),
    )
    first_session = first.call(topic, "new_session", {}, first_ref)[4]["response"]["session"]
    late_session = late.call(topic, "new_session", {}, late_ref)[4]["response"]["session"]
    stack.dialogs[0].stop()  # the answers come only after the clients have gone
    _aida_say(first, first_ref, project, first_session, "say b1")
    for n in ("one", "two"):
        _aida_say(late, late_ref, project, late_session, f"say {n}")
    _wait_stored(stack, subjects.chat_project_turns(project.key), 3)
    stack.gateways[0].stop(signal.SIGTERM)
    assert first.close_code() == late.close_code() == 1001  # phoenix.js reconnects after it

    first, first_ref = _aida(stack, project, replica=1)
    stack.dialogs[0].start()
    # Two sessions' answers, in whichever order the dialog gave them; all reach `first`.
    heard = _messages(first, {first_session: 1, late_session: 2})
    assert heard == {first_session: ["b1"], late_session: ["one", "two"]}  # broadcast

    late, late_ref = _aida(stack, project, replica=1)
    assert [late.message(late_session) for _ in range(2)] == ["one", "two"]
    _nothing_more_for(late, late_session)
    _aida_say(late, late_ref, project, late_session, "say three")
    assert late.message(late_session) == "three"
    _nothing_more_for(first, first_session)


def _rsvp(stack: Stack, project: TestProject, question: str, *, replica: int) -> httpx.Response:
    params = {"botid": str(project.key), "token": project.secret, "uid": "late-caller"}
    url = f"{stack.http_url(replica)}/sandbox/chat"
    return httpx.get(url, params={**params, "q": question}, timeout=30)


def test_an_rsvp_answer_that_came_too_late_is_given_with_the_next_one(
    two_gateways: Stack, project: TestProject
) -> None:
    """An RSVP.ai caller told 504 because the bot answered after its wait still gets that
    answer: first in the stage of its next request, on any replica, and only once."""
    stack = two_gateways
    setup = xparo.connect(stack.ws_url(project, replica=1))
    assert xparo.save(setup, ECHO_AIML)["save_aiml"]["status"] is True
    setup.close()
    stack.dialogs[0].stop()
    timed_out = _rsvp(stack, project, "say one", replica=0)
    assert timed_out.status_code == 504 and timed_out.json()["status"] == -1
    stack.dialogs[0].start()
    _wait_stored(stack, subjects.chat_reply(project=project.key, session="late-caller"), 1)

    answered = _rsvp(stack, project, "say two", replica=1)
    assert answered.status_code == 200, answered.text
    assert [e["message"] for e in answered.json()["stage"]] == ["one", "two"]
    again = _rsvp(stack, project, "say three", replica=0)
    assert [e["message"] for e in again.json()["stage"]] == ["three"]
