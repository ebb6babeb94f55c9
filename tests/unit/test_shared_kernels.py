"""One AIML kernel per distinct content: shared by projects, with each project's bot
properties and session state its own."""

import asyncio
import copy
import gc
import random
import threading
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiml
import pytest
from aiml.PatternMgr import PatternMgr

from services.dialog.engines.aiml import compile_aiml, compile_files
from services.dialog.engines.aiml_kernel import (
    NO_AIML,
    CompiledAiml,
    answer,
    build_kernel,
    gc_paused,
)
from services.dialog.engines.brain import Brain, Kernels, build_brain
from services.dialog.engines.chain import Question, respond
from shared.contracts import BotContent
from shared.contracts.content import AimlFile

BOT = (
    '<category><pattern>WHAT IS YOUR NAME</pattern><template>I am <bot name="name"/></template>'
    "</category>"
    '<category><pattern>HELLO <bot name="name"/></pattern><template>That is me</template>'
    "</category>"
    '<category><pattern>MY COLOR IS *</pattern><template><think><set name="color"><star/>'
    "</set></think>noted</template></category>"
    '<category><pattern>WHAT IS MY COLOR</pattern><template><get name="color"/></template>'
    "</category>"
)
# ALICE's "where are you" with the bot's city and state unset answers ", ." (punctuation
# only); python-aiml then matched nothing at all for the next question.
LOST = (
    '<category><pattern>WHERE ARE YOU</pattern><template><bot name="city"/>, <bot name="state"/>.'
    "</template></category>"
    "<category><pattern>HELLO</pattern><template>Hi there!</template></category>"
    "<category><pattern>*</pattern><that>I ASKED *</that><template>you answered</template>"
    "</category>"
)


def content(aiml: str, properties: str = "", version: int = 1) -> BotContent:
    return BotContent(version=version, aiml=aiml, maps="", sets="", properties=properties)


def ask(brain: Brain, text: str, state: dict[str, object], session: str = "s") -> str:
    question = Question(text=text, lang="en", skill=None, now=datetime.now(UTC), session_id=session)
    said = asyncio.run(respond(brain, question, state))
    if said is None:
        return ""
    state.clear()
    state.update(said.state)
    return said.text


def test_projects_with_the_same_aiml_share_one_kernel_and_other_aiml_gets_its_own() -> None:
    """Two projects (or stages) with identical AIML get the very same kernel object, whatever
    their properties; different AIML gets another."""
    kernels = Kernels()
    ada = build_brain(content(BOT, "name:Ada"), kernels=kernels)
    bob = build_brain(content(BOT, "name=Bob", version=7), kernels=kernels)
    other = build_brain(content(LOST), kernels=kernels)
    assert ada.kernel is bob.kernel
    assert other.kernel is not ada.kernel
    assert len(kernels) == 2


def test_a_kernel_is_compiled_once_however_many_ask_at_once() -> None:
    """Eight builders of the same AIML at the same moment: one compile, one kernel."""
    kernels, compiled, started = Kernels(), [], threading.Barrier(8)

    def compile_once() -> CompiledAiml:
        compiled.append(1)
        return compile_aiml(BOT)

    def build() -> None:
        started.wait()
        found.append(build_brain(content(BOT), compile_once, kernels=kernels).kernel)

    found: list[object] = []
    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(compiled) == 1
    assert all(kernel is found[0] for kernel in found)


def test_each_project_answers_with_its_own_bot_name_on_a_shared_kernel() -> None:
    """Ada and Bob share a kernel; each says its own name, in turn, and each matches patterns
    naming it (<bot name="name"/> in a pattern) but not the other's name."""
    kernels = Kernels()
    ada = build_brain(content(BOT, "name:Ada"), kernels=kernels)
    bob = build_brain(content(BOT, "name:Bob"), kernels=kernels)
    nameless = build_brain(content(BOT), kernels=kernels)
    for _ in range(3):
        assert ask(ada, "what is your name", {}) == "I am Ada"
        assert ask(bob, "what is your name", {}) == "I am Bob"
    assert ask(nameless, "what is your name", {}) == "I am Nameless"
    assert ask(ada, "hello ada", {}) == "That is me"
    assert ask(bob, "hello ada", {}) == ""
    assert ask(bob, "hello bob", {}) == "That is me"


def test_a_projects_predicates_never_show_up_in_anothers_answer() -> None:
    """Ada's user says their color in session "s"; Bob's user of a session also named "s"
    on the same kernel does not hear it, and Ada's still does."""
    kernels = Kernels()
    ada = build_brain(content(BOT, "name:Ada"), kernels=kernels)
    bob = build_brain(content(BOT, "name:Bob"), kernels=kernels)
    ada_state: dict[str, object] = {}
    assert ask(ada, "my color is red", ada_state) == "noted"
    assert ask(bob, "what is my color", {}) == ""
    assert ask(ada, "what is my color", ada_state) == "red"
    assert ada.kernel.kernel._sessions.keys() == {"_global"}
    assert "color" not in ada.kernel.kernel.getSessionData("_global")


def test_answers_from_many_threads_keep_each_projects_name() -> None:
    """Two projects' answers run at the same time from several threads on one kernel: every
    answer carries its own project's name (properties are applied under the kernel's lock)."""
    kernels = Kernels()
    brains = [build_brain(content(BOT, f"name:N{n}"), kernels=kernels) for n in range(4)]
    wrong: list[str] = []

    def talk(n: int) -> None:
        brain = brains[n]
        for _ in range(300):
            said = answer(
                brain.kernel,
                text="what is your name",
                state={},
                session_id="s",
                properties=brain.properties,
            )
            if said.text != f"I am N{n}":
                wrong.append(said.text)

    threads = [threading.Thread(target=talk, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_after_a_punctuation_only_answer_the_next_question_is_still_answered() -> None:
    """ "where are you" answers ", ." (the bot's city and state unset); "hello" right after it
    is answered (python-aiml's own matcher found nothing for any input after such an answer),
    and a project that sets city and state gets them."""
    state: dict[str, object] = {}
    brain = build_brain(content(LOST), kernels=Kernels())
    assert ask(brain, "where are you", state) == ", ."
    assert ask(brain, "hello", state) == "Hi there!"
    placed = build_brain(content(LOST, "city:Oslo\nstate:Norway"), kernels=Kernels())
    assert ask(placed, "where are you", {}) == "Oslo, Norway."


def test_a_that_pattern_still_matches_after_the_fix() -> None:
    """<that> still works: an answer starting "I asked" makes the next input match the
    category waiting for it."""
    kernel = build_kernel(
        compile_aiml(
            "<category><pattern>GO</pattern><template>I asked you</template></category>"
            "<category><pattern>*</pattern><that>I ASKED *</that><template>you answered"
            "</template></category>"
        ),
        {},
    )
    went = answer(kernel, text="go", state={}, session_id="s")
    assert answer(kernel, text="blue", state=went.state, session_id="s").text == "you answered"


def test_an_empty_brain_answers_nothing() -> None:
    """Content without AIML shares the one empty kernel, which matches nothing."""
    kernels = Kernels()
    brain = build_brain(content(""), NO_AIML, kernels=kernels)
    assert ask(brain, "hello", {}) == ""


@pytest.fixture(autouse=True)
def collector_back() -> Iterator[None]:
    """Building a kernel keeps every live object out of the collector: give them back."""
    yield
    gc.unfreeze()


def test_a_kernel_no_brain_uses_any_more_is_freed() -> None:
    """Kernels are kept out of the garbage collector's sight (its full passes over ALICE took
    over a second); one that no brain uses any more is still freed, and a later brain with the
    same AIML gets a new one."""
    kernels = Kernels()
    brain = build_brain(content(BOT), kernels=kernels)
    kernel = weakref.ref(brain.kernel.kernel)
    del brain
    assert kernel() is None
    assert len(kernels) == 0
    assert ask(build_brain(content(BOT), kernels=kernels), "what is your name", {}) == (
        "I am Nameless"
    )


ALICE = Path(aiml.__file__).parent / "botdata" / "alice"
CONVERSATION = (
    "Hello!", "what is your name?", "my name is Ada", "what is my name", "who are you",
    "what is ai", "I am a teacher.", "yes", "no", "why?", "do you like movies",
    "tell me about yourself", "what's up", "I like pizza... a lot!", "goodbye", "HELLO   THERE",
    "is it raining", "what did I say", "ok", "who made you", "tell me a joke", "what",
    "what is my name", "Tim", "tell me a joke", "what?",
)  # fmt: skip


def test_the_kernel_answers_a_conversation_as_python_aiml_does() -> None:
    """ALICE compiled by the dialog is python-aiml's own pattern tree, in which the dialog's
    matcher finds what python-aiml's finds (a thousand of ALICE's patterns, with and without
    their `that` and topic), and a conversation with it (punctuation, stars, <that>, <srai>,
    predicates) gets, answer for answer, what python-aiml's kernel says."""
    theirs = aiml.Kernel()
    theirs.verbose(False)
    files = []
    with gc_paused():
        for path in sorted(ALICE.glob("*.aiml")):
            theirs.learn(str(path))
            files.append(AimlFile(name=path.name, text=path.read_text("utf-8")))
    compiled = compile_files(files)[0]
    ours = build_kernel(compiled, {})
    assert ours._brain._root == theirs._brain._root
    for pattern, that, topic in list(compiled.categories)[::97]:  # ~1,000 of ALICE's own
        asked = pattern.replace("_", "SO THEN").replace("*", "BLUE CHEESE")
        said = that.replace("_", "WELL").replace("*", "I THINK SO")
        for heard_that, heard_topic in ((said, topic.replace("*", "ANY")), ("", ""), ("OK", "")):
            found = ours._brain.match(asked, heard_that, heard_topic)
            assert found is PatternMgr.match(ours._brain, asked, heard_that, heard_topic), asked
    state: dict[str, object] = {}
    for n, text in enumerate(CONVERSATION):
        random.seed(n)  # the same <random> picks
        expected = theirs.respond(text, "s")
        random.seed(n)
        said = answer(ours, text=text, state=state, session_id="s")
        assert (text, said.text) == (text, expected)
        state = said.state
    assert state["_inputHistory"] == theirs.getPredicate("_inputHistory", "s")


def test_the_state_given_is_left_as_it_was_and_old_long_histories_are_cut() -> None:
    """Answering never changes the state it was given (a turn that is not saved leaves the
    session as it was), and a stored state with longer histories comes back with the last ten."""
    kernel = build_kernel(compile_aiml(BOT), {})
    asked, said_before = [f"q{n}" for n in range(15)], [f"a{n}" for n in range(15)]
    given: dict[str, object] = {
        "color": "red",
        "_inputHistory": asked,
        "_outputHistory": said_before,
    }
    before = copy.deepcopy(given)
    said = answer(kernel, text="what is my color", state=given, session_id="s")
    assert said.text == "red"
    assert given == before
    assert said.state["_inputHistory"] == [*asked[-9:], "what is my color"]
    assert said.state["_outputHistory"] == [*said_before[-9:], "red"]
    assert "_inputStack" not in said.state
    blank = answer(kernel, text="  ", state=given, session_id="s")
    assert blank.state["_inputHistory"] == asked[-10:]


def test_the_chain_leaves_the_state_given_as_it_was() -> None:
    """An AIML answer through the chain hands back a new state (the pending intent's wait
    gone) and leaves the session's state as it was: a turn that is not saved changes nothing."""
    brain = build_brain(content(BOT), kernels=Kernels())
    given: dict[str, object] = {"_nlu": {"intent": "book"}, "_inputHistory": ["hi"], "x": "1"}
    before = copy.deepcopy(given)
    question = Question(
        text="my color is red", lang="en", skill=None, now=datetime.now(UTC), session_id="s"
    )
    said = asyncio.run(respond(brain, question, given))
    assert said is not None and (said.engine, said.text) == ("aiml", "noted")
    assert given == before
    assert "_nlu" not in said.state and said.state["color"] == "red"
    assert said.state["_inputHistory"] == ["hi", "my color is red"]
