"""Answers from documents end to end: an operator uploads PDF, Markdown and HTML documents
through the admin API, the chain's `rag` engine answers a BESSER client with the best passages
and their sources (agent_reply_rag), and bad uploads get the admin API's problems."""

from collections.abc import Iterator

import httpx
import pytest

from tests.support.backends import Backends
from tests.support.pdf import pdf_of
from tests.support.plugin import Stack, TestProject

from .besser import connect, recv, send

HANDBOOK = """# Visitor handbook

## Parking

The car park under the museum opens at seven in the morning and closes at midnight.
Visitors with a ticket park for free for the first three hours.

## Lost property

Anything found in the galleries is kept at the cloakroom for thirty days.
"""
POLICY = ["Refund policy", "Refunds of tickets take five working days to reach your card."]
CAFE = "<html><body><h2>Cafe</h2><p>The rooftop cafe serves lunch from noon.</p></body></html>"


@pytest.fixture(scope="module")
def stack(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway (with its BESSER port) and a dialog."""
    running = Stack(backends, tmp_path_factory.mktemp("logs")).start(dialogs=1)
    yield running
    running.stop()


def admin(stack: Stack, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=stack.http_url(), headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def upload(client: httpx.Client, project: TestProject, name: str, body: bytes, kind: str) -> int:
    response = client.put(
        f"/admin/projects/{project.key}/documents/{name}",
        content=body,
        headers={"Content-Type": kind},
    )
    assert response.status_code == 200, response.text
    version: int = response.json()["version"]
    return version


@pytest.fixture
def bot(stack: Stack, project: TestProject, admin_token: str) -> TestProject:
    """A project answering from three documents, the rag engine after the FAQ."""
    with admin(stack, admin_token) as client:
        upload(client, project, "handbook.md", HANDBOOK.encode(), "text/markdown")
        upload(client, project, "policy.pdf", pdf_of(POLICY), "application/pdf")
        upload(client, project, "cafe.html", CAFE.encode(), "text/html")
        chain = {
            "steps": [{"engine": "faq", "threshold": 0.5}, {"engine": "rag", "threshold": 0.5}]
        }
        assert client.put(f"/admin/projects/{project.key}/chain", json=chain).status_code == 200
    return project


def ask(stack: Stack, bot: TestProject, text: str) -> dict[str, object]:
    ws = connect(stack.besser_url(bot))
    try:
        send(ws, "user_message", text)
        return recv(ws)
    finally:
        ws.close()


def test_a_question_is_answered_from_the_passage_that_holds_it(
    stack: Stack, bot: TestProject
) -> None:
    """The BESSER client gets agent_reply_rag: the answer quoting the passage, every passage
    found with its document and page (a PDF's own page number)."""
    frame = ask(stack, bot, "How long do ticket refunds take?")
    assert frame["action"] == "agent_reply_rag", frame
    rag = frame["message"]
    assert isinstance(rag, dict)
    assert rag["question"] == "How long do ticket refunds take?"
    assert rag["llm_name"] == "extractive"
    assert "five working days" in rag["answer"] and "policy.pdf, page 2" in rag["answer"]
    best = rag["docs"][0]
    assert best["metadata"] == {"source": "policy.pdf", "page": 2}
    assert "five working days" in best["content"]
    parking = ask(stack, bot, "until when is the car park open")["message"]
    assert isinstance(parking, dict)
    assert parking["docs"][0]["metadata"]["source"] == "handbook.md"
    assert "midnight" in parking["answer"]


def test_a_question_no_document_covers_gets_the_fallback(stack: Stack, bot: TestProject) -> None:
    """Below the chain's threshold the rag engine stays silent and the fallback answers."""
    frame = ask(stack, bot, "do you sell umbrellas with dragons")
    assert frame["action"] == "agent_reply_str"


def test_documents_are_listed_replaced_and_removed_as_versions(
    stack: Stack, bot: TestProject, admin_token: str
) -> None:
    """Each upload or removal is a new version; a removed document no longer answers."""
    with admin(stack, admin_token) as client:
        listed = client.get(f"/admin/projects/{bot.key}/documents").json()
        assert [d["name"] for d in listed["items"]] == ["cafe.html", "handbook.md", "policy.pdf"]
        removed = client.delete(f"/admin/projects/{bot.key}/documents/policy.pdf")
        assert removed.status_code == 200 and removed.json()["version"] == listed["version"] + 1
        again = client.delete(f"/admin/projects/{bot.key}/documents/policy.pdf")
        assert again.status_code == 404
    frame = ask(stack, bot, "How long do ticket refunds take?")
    assert frame["action"] != "agent_reply_rag" or all(
        d["metadata"]["source"] != "policy.pdf"
        for d in frame["message"]["docs"]  # type: ignore[index]
    )


def test_bad_uploads_are_refused_with_problems(
    stack: Stack, project: TestProject, admin_token: str
) -> None:
    """Another format is 415, an unreadable PDF or a document without text 422, a bad name
    422: each a problem document saying why; nothing is stored."""
    with admin(stack, admin_token) as client:
        base = f"/admin/projects/{project.key}/documents"
        cases = [
            ("slides.pptx", b"PK\x03\x04", "application/octet-stream", 415, "no PDF"),
            ("broken.pdf", b"%PDF-1.4 not really", "application/pdf", 422, "could not be read"),
            ("empty.md", b" \n\n ", "text/markdown", 422, "no text"),
            ("..hidden", b"text", "text/plain", 422, ""),
        ]
        for name, body, kind, status, says in cases:
            response = client.put(f"{base}/{name}", content=body, headers={"Content-Type": kind})
            assert response.status_code == status, (name, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert says in response.json()["detail"]
        assert client.get(base).json()["items"] == []
