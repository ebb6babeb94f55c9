"""BESSER's WebSocket platform end to end: a client speaking BAF 4.5's frames on the gateway's
BESSER port → JetStream → dialog (the state machine of eval/weather_machine.yaml, or AIML) → the
replies encoded as BESSER's own clients read them."""

import asyncio
import base64
import io
import json
import re
import wave
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import asyncpg
import httpx
import nats
import pytest
import websocket
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from shared import subjects
from shared.contracts import DeleteSession, TurnAnswered
from shared.identity import DEFAULT_FALLBACK
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject, new_project
from tests.support.waits import wait_until

from .besser import connect, recv, recv_n, refusal, said, send
from .typed import Admin

MACHINE = (Path(__file__).parents[2] / "eval" / "weather_machine.yaml").read_text()
GREETING = [
    ("agent_reply_str", "Hi ! Ask me about the weather."),
    ("agent_reply_options", '{"0": "Weather in Paris", "1": "Weather in Madrid"}'),
]
AIML = (
    '<category><pattern>WHO AM I</pattern><template>You are <get name="user_id"/></template>'
    '</category><category><pattern>WHERE AM I</pattern><template>In <get name="session_name"/>'
    "</template></category><category><pattern>XFILE</pattern><template>A file: "
    '<get name="file_name"/></template></category>'
)


@pytest.fixture(scope="module")
def default_project(backends: Backends) -> TestProject:
    return new_project(backends)


@pytest.fixture(scope="module")
def stack(
    backends: Backends, tmp_path_factory: pytest.TempPathFactory, default_project: TestProject
) -> Iterator[Stack]:
    """A gateway whose BESSER port answers for `default_project`, a dialog and a media replica."""
    env = {
        "GATEWAY_BESSER_PROJECT": str(default_project.key),
        "GATEWAY_BESSER_MAX_FRAME_BYTES": str(2 * 1024 * 1024),
    }
    running = Stack(backends, tmp_path_factory.mktemp("logs"), gateway_env=env)
    yield running.start(dialogs=1, media=1)
    running.stop()


def upload(stack: Stack, project: TestProject, token: str, path: str, body: str) -> None:
    response = httpx.put(
        f"{stack.http_url()}/admin/projects/{project.key}/{path}",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/yaml"},
        timeout=60,
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def bot(stack: Stack, project: TestProject, admin_token: str) -> TestProject:
    """A project whose bot is the weather state machine."""
    upload(stack, project, admin_token, "machine", MACHINE)
    return project


def open_session(stack: Stack, bot: TestProject, session: str | None = None) -> websocket.WebSocket:
    query = f"session_id={session}" if session else ""
    return connect(stack.besser_url(bot, query=query))


def test_a_new_session_is_greeted_at_once_with_baf_frames(stack: Stack, bot: TestProject) -> None:
    ws = open_session(stack, bot)
    frames = recv_n(ws, 2)
    assert said(frames) == GREETING
    for frame in frames:
        assert list(frame) == ["action", "message", "history", "timestamp", "message_id"]
        assert frame["history"] is False
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", frame["timestamp"])


def test_an_option_click_gets_every_reply_kind_encoded_as_besser_does(
    stack: Stack, bot: TestProject
) -> None:
    ws = open_session(stack, bot)
    recv_n(ws, 2)
    send(ws, "user_message", "Weather in Paris")  # the Streamlit UI sends the option's text
    markdown, table, chart, html, *again = recv_n(ws, 6)
    assert said([markdown]) == [("agent_reply_markdown", "**Paris**: sunny, 21 degrees ")]
    assert table["action"] == "agent_reply_dataframe"
    assert json.loads(table["message"]) == {
        "day": {"0": "Mon", "1": "Tue"},
        "temp": {"0": 21, "1": 23},
    }
    assert chart["action"] == "agent_reply_plotly"
    figure = json.loads(chart["message"])
    assert figure["data"][0]["type"] == "bar" and figure["layout"]["title"]["text"] == "Paris"
    assert said([html]) == [("agent_reply_html", "<small>You asked: Weather in Paris</small>")]
    assert said(again) == GREETING  # the weather state's auto transition back
    send(ws, "user_message", "where is your weather station")
    text, location, *_ = recv_n(ws, 4)
    assert text["message"] == "Our weather station is on the roof of the Paris observatory."
    assert location["action"] == "agent_reply_location"
    assert location["message"] == {"latitude": 48.8363, "longitude": 2.3364}


def test_slots_across_turns_and_the_fallbacks(stack: Stack, bot: TestProject) -> None:
    ws = open_session(stack, bot)
    recv_n(ws, 2)
    send(ws, "user_message", "weather please")
    assert said([recv(ws)]) == [("agent_reply_str", "Which city?")]
    send(ws, "user_message", "zzz qqq")
    assert said([recv(ws)]) == [("agent_reply_str", "I need a city name, like Paris or Madrid.")]
    send(ws, "user_message", "Madrid")
    assert recv(ws)["message"].startswith("**Madrid**")
    recv_n(ws, 5)
    send(ws, "user_message", {"message": "inside json", "x": 1})  # BESSER: JSON → fallback
    assert said([recv(ws)]) == [("agent_reply_str", "Sorry, I didn't get it")]


# Keys in an order JSONB would not keep: it sorts them by length, then bytewise
# (at, line, destination; x, y, type; title, yaxis).
BOARD = """
initial: board
states:
  board:
    body:
      - text: Next departures
      - dataframe: {line: [S1, S7], destination: [Airport, Harbour], at: ["10:02", "10:09"]}
      - plotly:
          data: [{type: bar, y: [2, 7], x: [S1, S7]}]
          layout: {yaxis: {title: {text: min}}, title: {text: Waits}}
"""


def test_tables_and_charts_keep_their_authors_key_order_live_and_in_history(
    stack: Stack, project: TestProject, admin_token: str
) -> None:
    """A machine's `dataframe: {line, destination, at}` reaches BESSER's UI with its columns in
    that order (and a chart's fields as written), both live and in a history replay: nothing
    on the way (stored content, transcript, NATS) sorts the keys as JSONB would."""
    upload(stack, project, admin_token, "machine", BOARD)
    session = uuid4().hex
    live = said(recv_n(open_session(stack, project, session), 3))
    replay = said(recv_n(_fetched(stack, project, session), 3))
    for frames in (live, replay):
        assert [action for action, _ in frames] == [
            "agent_reply_str",
            "agent_reply_dataframe",
            "agent_reply_plotly",
        ]
        table = json.loads(frames[1][1])
        assert list(table) == ["line", "destination", "at"]
        assert table["at"] == {"0": "10:02", "1": "10:09"}
        figure = json.loads(frames[2][1])
        assert list(figure["data"][0]) == ["type", "y", "x"]
        assert list(figure["layout"]) == ["yaxis", "title"]


def _fetched(stack: Stack, project: TestProject, session: str) -> websocket.WebSocket:
    """A second socket on `session` that asked for its history (BESSER's UIs on reconnect)."""
    again = open_session(stack, project, session)
    send(again, "fetch_user_messages")
    return again


def test_a_known_session_is_not_greeted_again_and_keeps_its_variables(
    stack: Stack, bot: TestProject
) -> None:
    session = f"s-{uuid4().hex}"
    first = open_session(stack, bot, session)
    recv_n(first, 2)
    send(first, "user_set_variable", {"user_name": "Ada"})
    send(first, "user_message", "hello")
    assert recv(first)["message"] == "Hi Ada! Ask me about the weather."
    recv(first)
    first.close()
    again = connect(stack.besser_url(bot), header={"X-Session-ID": session})
    send(again, "user_message", "hi")  # no greeting came first: this answer is the next frame
    assert recv(again)["message"] == "Hi Ada! Ask me about the weather."


def test_reset_starts_over_with_a_greeting_and_no_variables(stack: Stack, bot: TestProject) -> None:
    ws = open_session(stack, bot)
    recv_n(ws, 2)
    send(ws, "user_set_variable", {"user_name": "Ada"})
    send(ws, "user_message", "weather please")
    assert recv(ws)["message"] == "Which city?"
    send(ws, "reset")
    assert said(recv_n(ws, 2)) == GREETING  # back in the initial state, user_name forgotten
    send(ws, "user_message", "zzz qqq")  # the greeting's fallback, not ask_city's
    assert recv(ws)["message"] == "Sorry, I didn't get it"
    send(ws, "user_message", "hello")
    assert recv(ws)["message"] == "Hi ! Ask me about the weather."


def test_a_reset_sent_in_a_loop_is_answered_and_kept_once(
    stack: Stack, bot: TestProject, admin_token: str
) -> None:
    """BESSER's UI re-sending `reset` in a loop (10 times, quickly) gets one greeting, and the
    transcript one reset, not ten; the next message is answered right after that greeting, and
    the dialog's log says why each repeat went unanswered."""
    session = uuid4().hex
    ws = open_session(stack, bot, session)
    assert said(recv_n(ws, 2)) == GREETING
    send(ws, "user_message", "weather please")
    assert recv(ws)["message"] == "Which city?"
    for _ in range(10):
        send(ws, "reset")
    send(ws, "user_message", "weather please")
    assert said(recv_n(ws, 3)) == [*GREETING, ("agent_reply_str", "Which city?")]
    admin = Admin(stack.http_url(), admin_token, bot.key)
    stored = admin.wait_for(f"/conversations/{session}", lambda b: b["session"]["turns"] >= 4)
    assert stored["session"]["turns"] == 4  # start, weather please, one reset, weather please
    dialog = stack.dialogs[0]
    logged = (dialog.log_dir / f"{dialog.name}.log").read_text(errors="replace")
    assert logged.count(f"of session {session} not answered: the session was reset") == 9


def test_history_is_replayed_with_history_true(stack: Stack, bot: TestProject) -> None:
    session = uuid4().hex
    ws = open_session(stack, bot, session)
    recv_n(ws, 2)
    send(ws, "user_message", "weather please")
    recv(ws)
    send(ws, "reset")
    recv_n(ws, 2)
    send(ws, "user_message", "where is your weather station")
    recv_n(ws, 4)
    later = open_session(stack, bot, session)
    send(later, "fetch_user_messages")
    replay = recv_n(later, 7)  # since the reset: greeting (2), question, its 4 replies
    assert all(frame["history"] is True for frame in replay)
    assert said(replay)[:3] == [*GREETING, ("user_message", "where is your weather station")]
    assert [f["action"] for f in replay[3:]] == [
        "agent_reply_str",
        "agent_reply_location",
        "agent_reply_str",
        "agent_reply_options",
    ]
    send(later, "user_message", "hello")  # nothing else was replayed before this answer
    assert recv(later)["message"] == "Hi ! Ask me about the weather."


def test_two_sockets_on_one_session_both_get_every_reply(stack: Stack, bot: TestProject) -> None:
    session = uuid4().hex
    one = open_session(stack, bot, session)
    assert said(recv_n(one, 2)) == GREETING
    two = open_session(stack, bot, session)
    send(two, "user_message", "weather in Madrid")
    for ws in (one, two):
        assert recv(ws)["message"].startswith("**Madrid**")


def test_bad_frames_get_an_error_and_the_socket_stays_open(stack: Stack, bot: TestProject) -> None:
    """Bad frames are answered with errors BAF's UIs show (agent_reply_str "Error: ..."),
    and the socket keeps answering."""
    ws = open_session(stack, bot)
    recv_n(ws, 2)
    ws.send(json.dumps({"action": "user_message"}))
    assert refusal(recv(ws)) == 'user_message needs a "message" (null is fine)'
    send(ws, "bogus", "x")
    assert refusal(recv(ws)).startswith("unknown action 'bogus'")
    ws.send("{not json")
    assert refusal(recv(ws)).startswith("a frame is a JSON object")
    send(ws, "user_set_variable", ["not", "a", "dict"])
    assert refusal(recv(ws)) == "user_set_variable needs a non-empty JSON object"
    send(ws, "user_set_variable", {"_hidden": 1})
    assert refusal(recv(ws)).startswith("variables refused")
    send(ws, "user_message", "hello")
    assert recv(ws)["message"] == "Hi ! Ask me about the weather."


def test_a_file_is_sniffed_and_moves_the_machine(stack: Stack, bot: TestProject) -> None:
    ws = open_session(stack, bot)
    recv_n(ws, 2)
    pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
    message = {"name": "report.pdf", "type": "text/plain", "base64": base64.b64encode(pdf).decode()}
    send(ws, "user_file", json.dumps(message))  # a JSON *string*, as BESSER's UIs send it
    assert recv(ws)["message"] == "Thanks for report.pdf (application/pdf)"
    recv_n(ws, 2)
    text = {
        "name": "notes.pdf",
        "type": "application/pdf",
        "base64": base64.b64encode(b"hi").decode(),
    }
    send(ws, "user_file", json.dumps(text))  # says PDF, is text: no file transition for it
    assert recv(ws)["message"] == "Sorry, I didn't get it"
    send(ws, "user_file", json.dumps({"name": "x", "type": "text/plain", "base64": "%%%"}))
    assert refusal(recv(ws)) == "the file's base64 is not valid base64"


def test_a_voice_message_is_transcribed_echoed_and_answered(stack: Stack, bot: TestProject) -> None:
    ws = open_session(stack, bot)
    recv_n(ws, 2)
    wav = (Path(__file__).parents[1] / "fixtures" / "voice" / "weather.wav").read_bytes()
    send(ws, "user_voice", base64.b64encode(wav).decode())
    echo = recv(ws)
    assert echo["action"] == "user_message" and echo["history"] is True
    assert "weather" in echo["message"].lower()
    assert recv(ws)["action"] in ("agent_reply_markdown", "agent_reply_str")
    silence = io.BytesIO()
    with wave.open(silence, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\0\0" * 1600)  # a tenth of a second: a click on record, no words
    send(ws, "user_voice", base64.b64encode(silence.getvalue()).decode())
    assert refusal(recv(ws)) == "no speech was recognised in the voice message"


def test_an_aiml_bot_answers_in_str_frames_and_sees_who_the_user_is(
    stack: Stack, project: TestProject, admin_token: str
) -> None:
    upload(stack, project, admin_token, "aiml", AIML)
    ws = connect(stack.besser_url(project, query="user_id=ada@example.org&session_id=a@b"))
    send(ws, "user_message", "who am I")  # no machine, no greeting: this is the first frame
    assert said([recv(ws)]) == [("agent_reply_str", "You are ada@example.org")]
    upload_text = {"name": "a.txt", "type": "text/plain", "base64": base64.b64encode(b"x").decode()}
    send(ws, "user_file", json.dumps(upload_text))
    assert recv(ws)["message"] == "A file: a.txt"
    again = connect(stack.besser_url(project, query="user_id=bob&session_id=a@b"))
    send(again, "user_message", "who am I")  # the known session learnt who connects now
    assert recv(again)["message"] == "You are bob"
    header = {"X-User-ID": "bob"}  # BESSER's Streamlit UI sends the user as a header
    other = connect(stack.besser_url(project, query="session_name=front-desk"), header=header)
    send(other, "user_message", "who am I")
    assert recv(other)["message"] == "You are bob"
    send(other, "user_message", "where am I")
    assert recv(other)["message"] == "In front-desk"


def test_sockets_naming_no_project_reach_the_ports_default_one(
    stack: Stack, default_project: TestProject, admin_token: str
) -> None:
    upload(stack, default_project, admin_token, "machine", MACHINE)
    ws = connect(stack.besser_url())  # ws://host:port/ as BESSER's own UIs connect
    assert said(recv_n(ws, 2)) == GREETING
    anywhere = connect(stack.besser_url().rstrip("/") + "/any/path")
    assert said(recv_n(anywhere, 2)) == GREETING


def test_a_wrong_token_is_refused_at_the_handshake(stack: Stack, bot: TestProject) -> None:
    wrong = TestProject(bot.key, "not-the-secret")
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(stack.besser_url(wrong))
    assert refused.value.status_code == 403
    port = stack.gateway.env["GATEWAY_BESSER_PORT"]
    header = {"X-Project-Token": bot.secret}
    ws = connect(f"ws://127.0.0.1:{port}/?project={bot.key}", header=header)
    assert said(recv_n(ws, 2)) == GREETING


def test_the_release_stage_answers_from_published_content_only(
    stack: Stack, bot: TestProject
) -> None:
    """The machine was saved, not published: ?stage=release has no machine (no greeting, the
    fallback answers); a stage that does not exist refuses the handshake."""
    ws = connect(stack.besser_url(bot, query="stage=release"))
    send(ws, "user_message", "weather in Madrid")
    assert said([recv(ws)]) == [("agent_reply_str", DEFAULT_FALLBACK)]
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(stack.besser_url(bot, query="stage=prod"))
    assert refused.value.status_code == 403


def test_a_frame_over_the_limit_closes_with_1009(stack: Stack, bot: TestProject) -> None:
    ws = connect(stack.besser_url(bot), header={"X-User-ID": "ada"})
    recv_n(ws, 2)
    send(ws, "user_message", "x" * (2 * 1024 * 1024 + 10))
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(data[:2], "big") == 1009


@pytest.fixture(scope="module")
def guarded(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway whose BESSER port only lets one origin in."""
    env = {"GATEWAY_BESSER_ORIGINS": '["https://chat.example.org"]'}
    running = Stack(backends, tmp_path_factory.mktemp("logs"), gateway_env=env)
    yield running.start(dialogs=1)
    running.stop()


def test_the_origin_allow_list_refuses_other_sites(guarded: Stack, project: TestProject) -> None:
    url = guarded.besser_url(project)
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(url, origin="https://evil.example.com")
    assert refused.value.status_code == 403
    ws = connect(url, origin="https://chat.example.org")
    send(ws, "user_message", "hello")
    assert recv(ws)["action"] == "agent_reply_str"  # the empty bot's fallback
    guarded.gateway.stop()  # SIGTERM: its sockets are told to reconnect
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(data[:2], "big") == 1012


async def test_a_socket_connects_without_asking_the_dialog_whether_or_not_it_names_its_session(
    stack: Stack, bot: TestProject, nc: NatsClient
) -> None:
    """No connect asks the dialog for the session (a dialog busy with turns cannot time a
    connect out into a reconnect loop): a new session, named or not, is greeted; a known one
    is not, and learns who the user is now from the connect."""
    asked: list[str] = []

    async def seen(msg: Msg) -> None:
        asked.append(msg.subject)

    await nc.subscribe(subjects.dialog_session_all("get"), cb=seen)
    await nc.flush()
    assert said(recv_n(open_session(stack, bot), 2)) == GREETING
    session = f"named-{uuid4().hex}"
    assert said(recv_n(open_session(stack, bot, session), 2)) == GREETING
    again = connect(stack.besser_url(bot, query=f"session_id={session}&user_id=ada"))
    send(again, "user_set_variable", {"user_name": "Ada"})
    send(again, "user_message", "hello")  # no greeting came first: this answer is the next frame
    assert recv(again)["message"] == "Hi Ada! Ask me about the weather."
    await nc.flush()  # anything the gateway had asked before the answers has arrived
    assert asked == []


async def test_a_deleted_session_is_refused_at_connect_with_1008(
    stack: Stack, bot: TestProject, nc: NatsClient, pg: asyncpg.Connection
) -> None:
    """Connecting to a session that was deleted gets BESSER's error frame and a 1008 close,
    from the dialog's answer to the socket's start turn."""
    session = f"deleted-{uuid4().hex}"
    first = open_session(stack, bot, session)
    assert said(recv_n(first, 2)) == GREETING
    first.close()
    key = subjects.session_key(session, prefix="besser-")

    async def stored() -> bool:  # a greeting leaves before its batch commits the new session
        sql = "SELECT 1 FROM dialog.sessions WHERE project_key = $1 AND session_id = $2"
        return await pg.fetchval(sql, bot.key, key) is not None

    await wait_until(stored, within_s=20, what="the session stored")
    command = DeleteSession(project_key=bot.key, session_id=key, correlation_id=uuid4())
    subject = subjects.dialog_session("delete", bot.key)
    deleted = await nc.request(subject, command.model_dump_json().encode(), timeout=20)
    assert json.loads(deleted.data)["kind"] == "session"  # it was there, and is deleted now
    ws = open_session(stack, bot, session)
    assert "deleted" in refusal(recv(ws))
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(data[:2], "big") == 1008


def test_a_refusal_given_with_the_dialogs_answer_closes_the_socket_with_1008(
    stack: Stack, bot: TestProject, backends: Backends
) -> None:
    """When the dialog answers a turn of a deleted session with a refusal (instead of the
    session lookup at connect), the socket gets BESSER's error frame and is closed with 1008."""
    session = f"gone-{uuid4().hex}"
    ws = open_session(stack, bot, session)
    assert said(recv_n(ws, 2)) == GREETING
    key = subjects.session_key(session, prefix="besser-")
    answer = TurnAnswered.first(
        project_key=bot.key,
        session_id=key,
        turn_event_id=uuid4(),
        text="",
        engine="none",
        refused="session_deleted",
    )

    async def publish() -> None:
        client = await nats.connect(backends.nats_url)
        subject = subjects.chat_reply(project=bot.key, session=key)
        await client.publish(subject, answer.model_dump_json().encode())
        await client.close()

    asyncio.run(publish())
    assert "deleted" in refusal(recv(ws))
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(data[:2], "big") == 1008
