"""AIML validation, safe kernels and explicit session state."""

from uuid import uuid4

import pytest

from services.dialog.config import DialogSettings
from services.dialog.engines.aiml import (
    InvalidAiml,
    compile_aiml,
    data_predicates,
    heard,
    parse_properties,
)
from services.dialog.engines.aiml_kernel import answer, build_kernel
from services.dialog.engines.brain import Brains, build_brain
from services.dialog.sessions.application import deleted_event_id
from services.dialog.turns.order import answered_on, early_retry_delay, waits_for_predecessor
from shared.contracts import IMAGE_INPUT, BotContent

NAME = (
    '<category><pattern>MY NAME IS *</pattern><template><think><set name="name"><star/></set>'
    "</think>ok</template></category>"
    '<category><pattern>WHAT IS MY NAME</pattern><template><get name="name"/></template></category>'
    "<category><pattern>YES</pattern><that>DO YOU LIKE TEA</that><template>Tea it is</template>"
    "</category><category><pattern>ASK</pattern><template>Do you like tea</template></category>"
)


def test_bare_categories_and_whole_documents_both_compile() -> None:
    """The XPARO string of categories and a full <aiml> document are both accepted."""
    bare = '<category node_id="xparo_1"><pattern>HI</pattern><template>x</template></category>'
    assert len(compile_aiml(bare).categories) == 1
    doc = f'<?xml version="1.0"?>\n<aiml version="1.0.1">{bare}</aiml>'
    assert len(compile_aiml(doc).categories) == 1


@pytest.mark.parametrize(
    ("aiml", "line", "column"),
    [
        ("<category><pattern>HI</pattern><template>x</templat></category>", 1, 45),
        ("<category>\n  <pattern>HI</pattern>\n  <template>x</template>\n  <bogus>", 4, 3),
        ("<aiml>\n<category><pattern>HI</pattern></category>\n</aiml>", 2, 32),
    ],
)
def test_invalid_aiml_names_line_and_column(aiml: str, line: int, column: int) -> None:
    """Each refusal points at the line and column of the user's own text."""
    with pytest.raises(InvalidAiml) as refused:
        compile_aiml(aiml)
    first = refused.value.problems[0]
    assert (first.line, first.column) == (line, column), first


def test_state_carries_predicates_and_that_between_turns() -> None:
    """Predicates and <that> live in the state passed in and handed back, not in the kernel."""
    kernel = build_kernel(compile_aiml(NAME), {})
    told = answer(kernel, text="my name is Bob", state={}, session_id="s")
    assert answer(kernel, text="what is my name", state=told.state, session_id="s").text == "Bob"
    assert answer(kernel, text="what is my name", state={}, session_id="s").text == ""
    asked = answer(kernel, text="ask", state={}, session_id="s")
    assert answer(kernel, text="yes", state=asked.state, session_id="s").text == "Tea it is"
    assert kernel._sessions.keys() == {"_global"}


def test_uploaded_aiml_cannot_run_commands_or_read_files(tmp_path: object) -> None:
    """<system>, <learn> and <gossip> do nothing: uploaded AIML never touches the server."""
    aiml = (
        "<category><pattern>RUN</pattern><template>[<system>echo pwned</system>]</template></category>"
        "<category><pattern>LEARN</pattern><template>[<learn>/etc/passwd</learn>]</template></category>"
    )
    kernel = build_kernel(compile_aiml(aiml), {})
    assert answer(kernel, text="run", state={}, session_id="s").text == "[]"
    assert answer(kernel, text="learn", state={}, session_id="s").text == "[]"


def test_properties_in_both_xparo_formats_become_bot_predicates() -> None:
    """`key:value` and `KEY=VALUE` lines both set <bot name=.../> values."""
    props = parse_properties("name:Robo\n# comment\nROBOT_NAME=Hospital_Delivery_Robot\nbad line")
    assert props == {"name": "Robo", "ROBOT_NAME": "Hospital_Delivery_Robot"}
    aiml = '<category><pattern>WHO</pattern><template><bot name="name"/></template></category>'
    assert (
        answer(build_kernel(compile_aiml(aiml), props), text="who", state={}, session_id="s").text
        == "Robo"
    )


def test_history_in_state_stays_bounded() -> None:
    """However long a conversation runs, the stored state keeps only the last ten exchanges."""
    kernel = build_kernel(compile_aiml(NAME), {})
    state: dict[str, object] = {}
    for n in range(30):
        state = answer(kernel, text=f"my name is n{n}", state=state, session_id="s").state
    assert len(state["_inputHistory"]) == 10  # type: ignore[arg-type]


def test_turn_waits_only_for_a_missing_predecessor() -> None:
    """Turn n+1 of a channel waits while turn n is unanswered; a new channel starts at 1."""
    answered = [["a", 2], ["b", 9]]
    assert not waits_for_predecessor(channel="a", seq=3, answered=answered)
    assert waits_for_predecessor(channel="a", seq=4, answered=answered)
    assert not waits_for_predecessor(channel="c", seq=1, answered=answered)
    assert waits_for_predecessor(channel="c", seq=2, answered=answered)
    assert not waits_for_predecessor(channel="a", seq=2, answered=answered)  # a redelivery
    assert not waits_for_predecessor(channel="b", seq=10, answered=answered)


def test_an_early_turn_retries_fast_first_then_once_a_second() -> None:
    delays = [early_retry_delay(n, first=0.05) for n in range(1, 9)]
    assert delays[:3] == [0.05, 0.1, 0.2]
    assert delays[-1] == 1.0
    assert sum(delays) < 5  # a waiting turn is retried ~once a second, not 20 times


def test_dialog_settings_refuse_an_early_wait_shorter_than_redelivery() -> None:
    """A predecessor lost in a crash comes back after ack_wait: forcing the next turn sooner
    would answer it without the predecessor's state."""
    with pytest.raises(ValueError, match="DIALOG_EARLY_WAIT_S"):
        DialogSettings(ack_wait_s=10, early_wait_s=5)


def test_session_data_scalars_become_predicates_the_rest_clears_them() -> None:
    """Strings, numbers and bools are said as text; null, lists and objects clear the name."""
    data = {"first_name": "Ada", "age": 36, "score": 0.5, "vip": True, "tags": ["a"], "x": None}
    assert data_predicates(data) == {
        "first_name": "Ada",
        "age": "36",
        "score": "0.5",
        "vip": "True",
        "tags": "",
        "x": "",
    }
    kernel = build_kernel(
        compile_aiml(
            '<category><pattern>HI</pattern><template>Hi <get name="first_name"/></template>'
            "</category>"
        ),
        {},
    )
    said = answer(kernel, text="hi", state=data_predicates(data), session_id="s")
    assert said.text == "Hi Ada"


def test_an_image_is_heard_as_ximage_naming_the_image() -> None:
    """A turn with an image says IMAGE_INPUT with predicate `image`; text turns are unchanged."""
    image, state = uuid4(), {"name": "Bob"}
    assert heard(text="hello", image=None, state=state) == ("hello", state)
    assert heard(text="", image=image, state=state) == (
        IMAGE_INPUT,
        {"name": "Bob", "image": str(image)},
    )
    assert state == {"name": "Bob"}


def test_a_sessions_deletion_always_has_the_same_event_id() -> None:
    """Announcing a deletion again repeats its event id (the stream drops the duplicate)."""
    project = uuid4()
    first = deleted_event_id(project_key=project, session_id="s")
    assert first == deleted_event_id(project_key=project, session_id="s")
    assert first != deleted_event_id(project_key=project, session_id="t")
    assert first != deleted_event_id(project_key=uuid4(), session_id="s")


def test_brains_keep_the_last_two_versions_used_per_project() -> None:
    """The test and release versions stay built; a third version evicts the least used."""
    brains, project = Brains(), uuid4()
    built = {
        n: build_brain(BotContent(version=n, aiml=NAME, maps="", sets="", properties=""))
        for n in (1, 2, 3)
    }
    brains.put(project, built[1])
    brains.put(project, built[2])
    assert brains.get(project, 1) is built[1]
    brains.put(project, built[3])
    assert brains.versions(project) == [1, 3]
    assert brains.get(project, 2) is None


def test_answered_keeps_the_latest_channels_newest_last() -> None:
    """Answering moves a channel to the end with its new number; only the latest 32 stay."""
    answered: list[list[object]] = []
    for n in range(40):
        answered = answered_on(answered, channel=f"c{n}", seq=1)
    answered = answered_on(answered, channel="c10", seq=2)
    assert len(answered) == 32 and answered[-1] == ["c10", 2]
    assert [c for c, _ in answered][:2] == ["c8", "c9"]
