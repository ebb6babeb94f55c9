"""AIML brains on the real stack: projects with the same AIML share one kernel yet answer as
themselves, and an answer of punctuation only does not make the next question fall back."""

from tests.support.plugin import Stack, TestProject

from .xparo import ask, connect, save

SHARED = (
    '<category><pattern>WHAT IS YOUR NAME</pattern><template>I am <bot name="name"/></template>'
    "</category>"
    '<category><pattern>MY COLOR IS *</pattern><template><think><set name="color"><star/>'
    "</set></think>noted</template></category>"
    '<category><pattern>WHAT IS MY COLOR</pattern><template>It is <get name="color"/>'
    "</template></category>"
)
# ALICE's "where are you" (bot_profile.aiml), whose city and state nobody set: ", ."
WHERE = (
    '<category><pattern>WHERE ARE YOU</pattern><template><bot name="city"/>, <bot name="state"/>.'
    "</template></category>"
    "<category><pattern>HELLO</pattern><template>Hi there!</template></category>"
)


def test_after_a_punctuation_only_answer_the_next_question_is_answered_by_the_aiml(
    stack: Stack, project: TestProject
) -> None:
    """ALICE's lost answers: "where are you" answers ", ." and "hello" right after it is
    answered by the AIML (it used to get the project's fallback: no pattern matched any input
    after such an answer), and so is every question after."""
    ws = connect(stack.ws_url(project, query="session_id=where"))
    assert save(ws, WHERE)["save_aiml"]["status"] is True
    assert ask(ws, "where are you") == ", ."
    assert ask(ws, "hello") == "Hi there!"
    assert ask(ws, "where are you") == ", ."
    assert ask(ws, "hello") == "Hi there!"


def test_projects_with_the_same_aiml_answer_with_their_own_name_and_predicates(
    stack: Stack, project: TestProject, other_project: TestProject
) -> None:
    """Two projects upload the same AIML with different bot names (one kernel in the replica):
    each answers with its own name, and a color told to one, in a session of the same id, is
    not known to the other."""
    ada = connect(stack.ws_url(project, query="session_id=same"))
    bob = connect(stack.ws_url(other_project, query="session_id=same"))
    assert save(ada, {"aiml": SHARED, "properties": "name:Ada"})["save_aiml"]["status"] is True
    assert save(bob, {"aiml": SHARED, "properties": "name:Bob"})["save_aiml"]["status"] is True
    assert ask(ada, "my color is red") == "noted"
    for _ in range(2):
        assert ask(ada, "what is your name") == "I am Ada"
        assert ask(bob, "what is your name") == "I am Bob"
    assert ask(bob, "what is my color") == "It is"
    assert ask(ada, "what is my color") == "It is red"
