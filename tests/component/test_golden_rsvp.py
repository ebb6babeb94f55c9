"""Golden answers of RSVP.ai's chat API (`GET /<endpoint>/chat`): the gateway's route on the fake
bridge (an echo bot, which answers as the fallback engine), asked as RSVP's document shows
(shared/protocols/seeds/003_*) and as the real wechaty client asks (no stage, no lang;
shared/reference/xparo_rsvp.md §B.2); each status and JSON body is compared with
tests/component/golden/rsvp/<test>.json.

Refresh the goldens after a deliberate wire change, then read the diff before committing:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/component/test_golden_rsvp.py
"""

from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from tests.support.gateway_fakes import SECRET
from tests.support.golden import assert_golden
from tests.support.sockets import BOT, rsvp_app


def ask(client: TestClient, endpoint: str, **query: str) -> dict[str, Any]:
    """One GET and what came back: the request, its status and its JSON body."""
    url = f"/{endpoint}/chat?{urlencode(query)}"
    answer = client.get(url)
    return {"request": f"GET {url}", "status": answer.status_code, "body": answer.json()}


def test_questions_are_answered_in_the_documents_shape() -> None:
    """The document's question and the wechaty client's (no stage, no lang) get status 0, a
    stage list with the message, params with a tid, and the topic of the engine that answered;
    stage=release and lang=cn are taken."""
    with TestClient(rsvp_app()) as client:
        bot = {"botid": str(BOT.key), "token": SECRET}
        steps = [
            ask(client, "sandbox", **bot, uid="123459", q="howdy"),
            ask(client, "sandbox", **bot, uid="123459", q="howdy", stage="release", lang="en"),
            ask(client, "sandbox", **bot, uid="wx-talker-1", q="开会了", lang="cn"),
        ]
    assert_golden("rsvp", "questions", steps)


def test_bad_requests_get_status_minus_one_and_a_reason() -> None:
    """The sandbox's public token, a missing uid, a missing q and an unknown bot each get
    status -1, an empty stage, topic "error" and a message saying why, under a 4xx status."""
    with TestClient(rsvp_app()) as client:
        bot = {"botid": str(BOT.key), "token": SECRET}
        steps = [
            ask(client, "sandbox", botid=str(BOT.key), token="rsvpai", uid="1", q="hi"),
            ask(client, "sandbox", **bot, q="hi"),
            ask(client, "sandbox", **bot, uid="1"),
            ask(client, "sandbox", botid="999001", token=SECRET, uid="1", q="hi"),
        ]
    assert_golden("rsvp", "refusals", steps)
