"""Golden frames of AIDA's Phoenix channel (`/socket/websocket`): the adapter on the fake bridge
(an echo bot), driven with the exchange the official phoenix.js client was captured making
(shared/reference/phoenix.md §5: join, new_session, utb_msg, heartbeat, leave) in V2 arrays and
V1 objects, and AIDA's events (shared/protocols/seeds/002_*); every frame the server sends back
is compared with tests/component/golden/aida/<test>.json.

Refresh the goldens after a deliberate wire change, then read the diff before committing:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/component/test_golden_aida.py
"""

from tests.support.gateway_fakes import SECRET
from tests.support.golden import Exchange, assert_golden
from tests.support.sockets import BOT, Wire, aida

TOPIC = f"bot:{BOT.key}"


async def test_phoenix_js_v2_join_session_message_heartbeat_and_leave() -> None:
    """phoenix.js's captured V2 exchange: the join and new_session are answered under their
    refs, the bot's answer to utb_msg comes as btu_msg, the heartbeat on "phoenix" is answered,
    and a leave is answered, then the channel closes under the join's ref."""
    wire = Wire()
    talk = Exchange(aida(wire, 2), wire)
    await talk.send(["6", "6", TOPIC, "phx_join", {"access_token": SECRET}])
    [opened] = await talk.send(["6", "7", TOPIC, "new_session", {}])
    session = opened[4]["response"]["session"]
    await talk.send(["6", "8", TOPIC, "utb_msg", {"session": session, "text": "hello"}])
    await talk.send(["6", "9", TOPIC, "put_data", {"session": session, "data": {"age": 7}}])
    await talk.send([None, "10", "phoenix", "heartbeat", {}])
    await talk.send(["6", "12", TOPIC, "phx_leave", {}])
    assert_golden("aida", "phoenix_js_v2", talk.steps)


async def test_v1_objects_a_refused_join_then_a_session_with_data() -> None:
    """In V1 objects: a join with the wrong token is refused "unauthorized", the right one is
    joined, and new_session with data answers the new session's id."""
    wire = Wire()
    talk = Exchange(aida(wire, 1), wire)
    join = {"topic": TOPIC, "event": "phx_join", "ref": "1"}
    await talk.send({**join, "payload": {"access_token": "not-the-token"}})
    await talk.send({**join, "payload": {"access_token": SECRET}, "ref": "2"})
    payload = {"data": {"first_name": "Ada", "last_name": "Lovelace"}}
    await talk.send({"topic": TOPIC, "event": "new_session", "payload": payload, "ref": "3"})
    assert_golden("aida", "v1_objects", talk.steps)
