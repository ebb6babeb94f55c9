"""Golden frames of the BESSER WebSocket platform: the adapter on the fake bridge (an echo bot,
whose greeting is "ok"), driven with the envelopes BESSER's Streamlit UI and Python clients send
(shared/protocols/seeds/004_*, shared/reference/besser.md §2.2); every frame the server sends back
is compared with tests/component/golden/besser/<test>.json (timestamps and message ids scrubbed).

Refresh the goldens after a deliberate wire change, then read the diff before committing:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/component/test_golden_besser.py
"""

import json

from tests.support.golden import Exchange, assert_golden
from tests.support.sockets import Wire, besser


async def test_the_streamlit_uis_actions_get_besser_envelopes() -> None:
    """The greeting comes on connect; user_message is answered, reset greets again, a small
    user_file is heard by its name, user_set_variable and fetch_user_messages answer nothing;
    every frame carries action, message, history, timestamp and message_id."""
    wire = Wire()
    talk = Exchange(besser(wire), wire)
    await talk.connect()
    await talk.send({"action": "user_message", "message": "hi"})
    await talk.send(
        {
            "action": "reset",
            "message": None,
            "history": False,
            "timestamp": None,
            "message_id": None,
        }
    )
    await talk.send({"action": "user_set_variable", "message": {"user_profile": "kid"}})
    await talk.send({"action": "fetch_user_messages", "message": None})
    file = {"name": "a.txt", "type": "text/plain", "base64": "YWJj"}
    await talk.send({"action": "user_file", "message": json.dumps(file)})
    assert_golden("besser", "streamlit_ui", talk.steps)


async def test_what_it_cannot_use_is_an_error_reply_in_besser_shape() -> None:
    """A voice message that is no WAV, an unknown action, a reset without its message and a
    message holding a lone surrogate (valid JSON, no valid text: found by the fuzz run) each
    get one agent_reply_str "Error: ..." with the reason under `error`; the socket stays open."""
    wire = Wire()
    talk = Exchange(besser(wire), wire)
    await talk.send({"action": "user_voice", "message": "UklGRiQAAABXQVZFZm10IBAAAAABAAEA"})
    await talk.send({"action": "dance", "message": "now"})
    await talk.send({"action": "reset"})
    await talk.send_text('{"action": "user_message", "message": "\\ud800"}')
    assert_golden("besser", "refusals", talk.steps)
