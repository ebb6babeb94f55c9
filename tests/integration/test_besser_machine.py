"""A BESSER bot's state machine through the BESSER protocol, end to end (a real websocket client,
the gateway's BESSER port, JetStream, a dialog replica): global states, conditions checked by
the dialog's clock and pushed to the socket, GUI events with their payload, and machines refused
with where the problem is."""

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websocket

from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject

from .besser import connect, recv, recv_n, refusal, said, send

MACHINE = """\
initial: menu
intents:
  - {name: help, sentences: [help, i need help]}
  - {name: pizza, sentences: [a pizza, pizza please]}
states:
  menu:
    body: [{text: "What would you like?"}]
    transitions:
      - {when: intent_matched, intent: pizza, to: pay}
      - when: event
        event: gui
        if: event.action == 'onSubmit' and event.value.qty > 0
        to: ordered
  pay:
    body: [{text: "Pay on the page, I will wait."}]
    transitions:
      - {when: condition, if: vars.paid == true, to: paid}
  paid:
    set: {paid: false}
    body: [{text: "Thanks for paying!"}]
    transitions: [{when: auto, to: menu}]
  ordered:
    body: [{text: "Order received"}]
    transitions: [{when: auto, to: menu}]
  help:
    global: help
    body: [{markdown: "I sell **pizza**."}]
"""
MENU = ("agent_reply_str", "What would you like?")


@pytest.fixture(scope="module")
def stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway (BESSER port and RSVP routes) and one dialog replica."""
    running = Stack(backends, tmp_path_factory.mktemp("logs"))
    yield running.start(dialogs=1)
    running.stop()


def put_machine(stack: Stack, project: TestProject, token: str, body: str) -> httpx.Response:
    return httpx.put(
        f"{stack.http_url()}/admin/projects/{project.key}/machine",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/yaml"},
        timeout=60,
    )


@pytest.fixture
def bot(stack: Stack, project: TestProject, admin_token: str) -> TestProject:
    response = put_machine(stack, project, admin_token, MACHINE)
    assert response.status_code == 200, response.text
    return project


def opened(stack: Stack, bot: TestProject, query: str = "") -> websocket.WebSocket:
    ws = connect(stack.besser_url(bot, query=query))
    assert said([recv(ws)]) == [MENU]
    return ws


def test_a_global_state_answers_from_any_state_and_goes_back(
    stack: Stack, bot: TestProject
) -> None:
    """ "help" while the bot waits for a payment says the help, then asks for the payment again,
    and the session still waits there."""
    ws = opened(stack, bot)
    send(ws, "user_message", "pizza please")
    assert said([recv(ws)]) == [("agent_reply_str", "Pay on the page, I will wait.")]
    send(ws, "user_message", "help")
    assert said(recv_n(ws, 2)) == [
        ("agent_reply_markdown", "I sell **pizza**."),
        ("agent_reply_str", "Pay on the page, I will wait."),
    ]


def test_a_condition_that_becomes_true_is_pushed_without_a_message(
    stack: Stack, bot: TestProject
) -> None:
    """The page sets `paid` (user_set_variable, which answers nothing): within the clock's
    second the bot says thanks and goes back to the menu, with nobody writing anything."""
    ws = opened(stack, bot)
    send(ws, "user_message", "pizza please")
    recv(ws)
    send(ws, "user_set_variable", {"paid": True})
    pushed = recv_n(ws, 2)
    assert said(pushed) == [("agent_reply_str", "Thanks for paying!"), MENU]
    assert pushed[0]["history"] is False and pushed[0]["message_id"]


def test_a_pushed_transition_reaches_rsvp_ahead_of_its_next_answer(
    stack: Stack, bot: TestProject
) -> None:
    """An RSVP caller (no push) whose session a BESSER page marks paid hears the thanks first in
    the `stage` of its next answer; the page hears it at once; nobody hears it twice."""
    uid = "rsvp-pays"
    chat = f"{stack.http_url()}/sandbox/chat"

    def ask(q: str) -> list[str]:
        query = {"botid": str(bot.key), "token": bot.secret, "uid": uid, "q": q}
        body = httpx.get(chat, params=query, timeout=15).json()
        return [element["message"] for element in body["stage"]]

    assert ask("pizza please") == ["Pay on the page, I will wait."]
    ws = connect(stack.besser_url(bot, query=f"session_id={uid}"))  # known: no greeting
    send(ws, "user_set_variable", {"paid": True})
    assert said(recv_n(ws, 2)) == [("agent_reply_str", "Thanks for paying!"), MENU]
    thanks, help_again = (
        "Thanks for paying!\nWhat would you like?",
        "I sell **pizza**.\nWhat would you like?",
    )
    assert ask("help") == [thanks, help_again]
    assert ask("help") == [help_again]


@pytest.mark.parametrize("as_string", [False, True])
def test_a_gui_form_submission_moves_the_machine_with_its_payload(
    stack: Stack, bot: TestProject, as_string: bool
) -> None:
    """A user_gui_event (an object, or a JSON string of one) whose form says a quantity takes
    the transition; a click is no submission and the bot stays silent."""
    ws = opened(stack, bot)
    click: dict[str, Any] = {"elementId": "order", "action": "onClick", "messageId": "m1"}
    send(ws, "user_gui_event", json.dumps(click) if as_string else click)
    submit = {**click, "action": "onSubmit", "name": "order", "value": {"qty": 2}}
    send(ws, "user_gui_event", json.dumps(submit) if as_string else submit)
    assert said(recv_n(ws, 2)) == [("agent_reply_str", "Order received"), MENU]


def test_a_bad_gui_event_gets_an_error_and_the_socket_stays_open(
    stack: Stack, bot: TestProject
) -> None:
    """No elementId, or an action BESSER does not send, is refused with a readable reason."""
    ws = opened(stack, bot)
    send(ws, "user_gui_event", {"action": "onSubmit"})
    assert "elementId" in refusal(recv(ws))
    send(ws, "user_gui_event", {"elementId": "x", "action": "onHover"})
    assert "onClick, onChange, onSubmit" in refusal(recv(ws))
    send(ws, "user_message", "help")
    assert said([recv(ws)])[0][0] == "agent_reply_markdown"


def test_a_machine_with_a_bad_condition_is_refused_with_where_it_is(
    stack: Stack, project: TestProject, admin_token: str
) -> None:
    """The upload is refused (422) naming the line, the column and the character of the fault."""
    bad = MACHINE.replace("if: vars.paid == true", "if: vars.paid = true")
    response = put_machine(stack, project, admin_token, bad)
    assert response.status_code == 422, response.text
    [problem] = response.json()["problems"]
    assert problem["line"] == 17 and problem["position"] == 11
    assert problem["column"] == 41
    assert "unexpected '='" in problem["message"]
