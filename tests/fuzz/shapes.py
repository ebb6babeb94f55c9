"""What every answer of a protocol looks like, whatever the frame was: the fuzz tiers' oracles
(test_adapters.py and coverage_guided.py)."""

from tests.support.sockets import Wire

BESSER_KEYS = {"action", "message", "history", "timestamp", "message_id"}
BESSER_ERROR_KEYS = BESSER_KEYS | {"error"}  # an agent_reply_str "Error: ..." + its reason


def check_phoenix(out: Wire, version: int) -> None:
    """Every frame sent is a Phoenix reply, close or btu_msg; an error reply says why."""
    assert set(out.closes) <= {1003, 1007}
    for sent in out.frames:
        if version == 2:
            _join_ref, _ref, topic, event, payload = sent
        else:
            topic, event, payload = sent["topic"], sent["event"], sent["payload"]
        assert isinstance(topic, str) and event in {"phx_reply", "phx_close", "btu_msg"}
        if event == "phx_reply":
            assert payload["status"] in {"ok", "error"}
            if payload["status"] == "error":
                assert isinstance(payload["response"]["reason"], str)
