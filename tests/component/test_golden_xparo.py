"""Golden frames of the XPARO command API (`/chatbot_api/<secret>/<project>/`): the adapter on the
fake bridge (an echo bot), driven with the commands of XPARO's WebSocket API document
(shared/protocols/seeds/000_*) and the messages the real robot client, lazyxcientist/xparo_ros2,
sends (shared/reference/xparo_rsvp.md §A.3); every frame the server sends back is compared with
tests/component/golden/xparo/<test>.json.

Refresh the goldens after a deliberate wire change, then read the diff before committing:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/component/test_golden_xparo.py
"""

from tests.support.golden import Exchange, assert_golden
from tests.support.sockets import Wire, xparo

AIML = "<category><pattern>HI</pattern><template>Hello</template></category>"


async def test_the_documented_commands_get_the_documented_answers() -> None:
    """initialize_api, xparo_sync_config, save_aiml, ask_bot and the three schedule commands
    answer in the document's shapes; a frame that is not an object of commands gets one error
    and the socket stays open."""
    wire = Wire()
    talk = Exchange(xparo(wire), wire)
    await talk.connect()
    await talk.send({"initialize_api": {}})
    await talk.send({"xparo_sync_config": {}})
    await talk.send({"save_aiml": AIML})
    await talk.send({"ask_bot": "hello"})
    await talk.send(
        {"xparo_schedule_control": {"start_navigation": {"date": "2026-12-24", "time": "09:00"}}}
    )
    await talk.send({"xparo_get_schedule": {}})
    await talk.send({"xparo_delete_schedule_control": {}})
    await talk.send(["ask_bot", "hello"])
    await talk.send_text("ask_bot: hello")
    assert_golden("xparo", "documented_commands", talk.steps)


async def test_the_robot_clients_handshake_chat_and_log_rows_are_answered() -> None:
    """xparo_ros2's first ADD_robots_info gets its ROBOT_CREDENTIAL, ask_bot_api its answer,
    ADD_Logs_history_database the row id it must send back (log_updated), and ROBOT_HEARTBEAT
    nothing."""
    wire = Wire()
    talk = Exchange(xparo(wire), wire)
    await talk.send({"ADD_robots_info": {"device_id": "robot-7", "hostname": "ward-pi"}})
    await talk.send(
        {
            "ask_bot_api": {
                "unique_id": "robot-7",
                "data": {"from robot": "testing one.."},
                "question": "HELLO",
            }
        }
    )
    log = {
        "log_files": {},
        "resources_consuption": {"cpu_avg_percent": 12.5},
        "extra_info": {"event": "session_start"},
        "created_at": "2026-12-06T10:00:00",
        "unique_id": "robot-7",
    }
    await talk.send({"ADD_Logs_history_database": log})
    await talk.send({"ROBOT_HEARTBEAT": {"device_id": "robot-7", "diagnostics_level": 0}})
    assert_golden("xparo", "robot_client", talk.steps)
