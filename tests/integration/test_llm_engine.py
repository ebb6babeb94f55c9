"""The llm fallback engine and written rag answers against a real HTTP server speaking
OpenAI's wire format (tests/integration/fake_openai.py), through BESSER's protocol: the model
gets the project's system prompt, the session's recent turns and the key; a slow model holds
up no other session of the same partition; a failing one leaves the fallback; the key is
never logged; bad chains are refused."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared import subjects
from shared.settings import CommonSettings
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject
from tests.support.services import Service

from .besser import connect, recv, send
from .fake_openai import FakeModel, fake_openai

KEY = "sk-test-e8c1f0a3b7d94c2a"
PROMPT = "You are the museum's guide. Be brief."
AIML = "<category><pattern>HELLO</pattern><template>Hello there!</template></category>"


@pytest.fixture(scope="module")
def model() -> Iterator[FakeModel]:
    with fake_openai() as running:
        yield running


@pytest.fixture(scope="module")
def stack(
    backends: Backends, tmp_path_factory: pytest.TempPathFactory, model: FakeModel
) -> Iterator[Stack]:
    """A gateway and a dialog whose llm engine is the fake model."""
    running = Stack(backends, tmp_path_factory.mktemp("logs"))
    env = {
        **running.env,
        "DIALOG_LLM_BASE_URL": model.url,
        "DIALOG_LLM_MODEL": "tiny-test",
        "DIALOG_LLM_API_KEY": KEY,
        "DIALOG_LLM_TIMEOUT_S": "5",
    }
    running.dialogs.append(Service("dialog", env, running.log_dir, name="dialog-1"))
    running.dialogs[-1].start()
    yield running.start(dialogs=0)
    running.stop()


def admin(stack: Stack, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=stack.http_url(), headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


@pytest.fixture
def bot(stack: Stack, project: TestProject, admin_token: str) -> TestProject:
    """AIML that knows HELLO, then the llm engine with the project's prompt."""
    chain = {"steps": [{"engine": "aiml"}, {"engine": "llm", "prompt": PROMPT}]}
    with admin(stack, admin_token) as client:
        assert client.put(f"/admin/projects/{project.key}/aiml", content=AIML).is_success
        assert client.put(f"/admin/projects/{project.key}/chain", json=chain).is_success
    return project


def same_partition_sessions() -> tuple[str, str]:
    """Two session ids whose turns fall in one partition (one batch loop answers both)."""
    partitions = CommonSettings().chat_partitions
    first = "llm-session-0"
    for n in range(1, 1000):
        other = f"llm-session-{n}"
        if subjects.partition_of(other, partitions) == subjects.partition_of(first, partitions):
            return first, other
    raise AssertionError("no two sessions share a partition")


def test_the_model_answers_what_nothing_else_does_with_prompt_history_and_key(
    stack: Stack, bot: TestProject, model: FakeModel
) -> None:
    """AIML answers HELLO; the next question goes to the model with the system prompt, the
    turn before it, and the key as a bearer token."""
    ws = connect(stack.besser_url(bot))
    send(ws, "user_message", "hello")
    assert recv(ws)["message"] == "Hello there!"
    before = len(model.requests)
    send(ws, "user_message", "what is on show this week")
    frame = recv(ws)
    assert frame["action"] == "agent_reply_str"
    assert frame["message"] == "tiny-test says: what is on show this week"
    asked = model.requests[before]
    assert asked["model"] == "tiny-test"
    assert asked["messages"] == [
        {"role": "system", "content": PROMPT},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hello there!"},
        {"role": "user", "content": "what is on show this week"},
    ]
    assert model.headers[before]["Authorization"] == f"Bearer {KEY}"
    ws.close()


def test_a_slow_model_holds_up_no_other_session(
    stack: Stack, bot: TestProject, model: FakeModel
) -> None:
    """While the model writes one session's answer, another session of the same partition is
    answered; the slow answer follows once the model is done."""
    model.release.clear()
    slow_id, quick_id = same_partition_sessions()
    slow = connect(stack.besser_url(bot, query=f"session_id={slow_id}"))
    quick = connect(stack.besser_url(bot, query=f"session_id={quick_id}"))
    before = len(model.requests)
    send(slow, "user_message", "tell me something slow")
    model.wait_for(before + 1)  # the model is writing
    send(quick, "user_message", "hello")
    assert recv(quick)["message"] == "Hello there!"
    assert not model.release.is_set()  # answered while the slow one still waits
    model.release.set()
    assert recv(slow)["message"] == "tiny-test says: tell me something slow"
    slow.close()
    quick.close()


def test_a_failing_model_leaves_the_fallback(
    stack: Stack, bot: TestProject, model: FakeModel
) -> None:
    """HTTP 500 from the model: the project's fallback answers."""
    ws = connect(stack.besser_url(bot))
    send(ws, "user_message", "this will fail")
    frame = recv(ws)
    assert frame["action"] == "agent_reply_str"
    assert "tiny-test" not in frame["message"] and frame["message"]
    ws.close()


def test_rag_answers_are_written_by_the_model_and_cite_their_sources(
    stack: Stack, project: TestProject, admin_token: str, model: FakeModel
) -> None:
    """With a model configured, the rag answer is the model's, from the numbered passages,
    the sources listed after it; the passages still come with it."""
    doc = "## Parking\n\nThe car park closes at midnight and opens at seven."
    with admin(stack, admin_token) as client:
        put = client.put(
            f"/admin/projects/{project.key}/documents/handbook.md",
            content=doc,
            headers={"Content-Type": "text/markdown"},
        )
        assert put.is_success, put.text
        chain = {"steps": [{"engine": "rag", "threshold": 0.3}]}
        assert client.put(f"/admin/projects/{project.key}/chain", json=chain).is_success
    before = len(model.requests)
    ws = connect(stack.besser_url(project))
    send(ws, "user_message", "when does the car park close")
    frame = recv(ws)
    assert frame["action"] == "agent_reply_rag", frame
    rag = frame["message"]
    assert rag["llm_name"] == "tiny-test"
    assert rag["answer"] == "Written from [1].\n\n(Sources: [1] handbook.md)"
    assert rag["docs"][0]["metadata"] == {"source": "handbook.md", "page": 1}
    passages = model.requests[before]["messages"][-1]["content"]
    assert "[1] (handbook.md)" in passages and "midnight" in passages
    ws.close()


def test_the_key_is_never_logged(stack: Stack, bot: TestProject, model: FakeModel) -> None:
    """Whatever the dialog logged while it used the model, the key is not in it."""
    ws = connect(stack.besser_url(bot))
    send(ws, "user_message", "this will fail again")
    recv(ws)
    ws.close()
    logs = "".join(p.read_text(errors="replace") for p in Path(stack.log_dir).glob("*.log"))
    assert logs and KEY not in logs


@pytest.mark.parametrize(
    ("chain", "says"),
    [
        ({"steps": [{"engine": "llm"}, {"engine": "aiml"}]}, "must be the last of the chain"),
        ({"steps": [{"engine": "faq", "prompt": "hi"}]}, "only the llm engine takes a prompt"),
        ({"steps": [{"engine": "gpt"}]}, "llm"),
    ],
)
def test_bad_chains_are_refused(
    stack: Stack, project: TestProject, admin_token: str, chain: object, says: str
) -> None:
    """An llm step that is not last, a prompt on another engine or an unknown engine: 422."""
    with admin(stack, admin_token) as client:
        refused = client.put(f"/admin/projects/{project.key}/chain", json=chain)
    assert refused.status_code == 422, refused.text
    assert says in refused.text
