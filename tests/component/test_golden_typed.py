"""Golden frames of the XPARO typed API (`/ws/chatbot/<secret>/<project>/`): the adapter on the
fake bridge (an echo bot), driven with the `{"type", "data"}` frames of XPARO's WebSocket
document (shared/protocols/seeds/001_*: chat, telemetry, pong) and a robot acknowledging a
command; every frame the server sends back is compared with
tests/component/golden/typed/<test>.json.

Refresh the goldens after a deliberate wire change, then read the diff before committing:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/component/test_golden_typed.py
"""

from tests.support.golden import Exchange, assert_golden
from tests.support.sockets import Wire, typed


async def test_the_documented_frames_get_the_documented_answers() -> None:
    """chat (with and without robot_id) gets chat_response; telemetry, pong and ack are taken
    without an answer."""
    wire = Wire()
    talk = Exchange(typed(wire), wire)
    await talk.send({"type": "chat", "data": {"message": "Hello robot", "robot_id": "robot_123"}})
    await talk.send({"type": "chat", "data": {"message": "Hello robot"}})
    await talk.send(
        {"type": "telemetry", "data": {"cpu_usage": 42, "memory_usage": 63, "disk_usage": 31}}
    )
    await talk.send({"type": "pong"})
    await talk.send({"type": "ack", "data": {"command_id": "3f1c2d4e-0000-4000-8000-00000000c0de"}})
    assert_golden("typed", "documented_frames", talk.steps)


async def test_frames_it_cannot_use_get_an_error_frame_naming_their_type() -> None:
    """A chat without a message, an unknown type and text that is no JSON each get one
    `{"type": "error"}` frame that says what is wrong, naming the type when there is one."""
    wire = Wire()
    talk = Exchange(typed(wire), wire)
    await talk.send({"type": "chat", "data": {}})
    await talk.send({"type": "dance", "data": {}})
    await talk.send({"data": {"message": "Hello robot"}})
    await talk.send_text("{oops")
    assert_golden("typed", "refusals", talk.steps)
