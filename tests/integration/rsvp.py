"""RSVP.ai's chat API as its real client calls it (httpx), and the admin content API of one
project that feeds it."""

from typing import Any

import httpx

from tests.support.plugin import Stack, TestProject

SAVE_TIMEOUT_S = 60
"""A content save answers once the new version's engines are built (the first intents of a
dialog process also load their libraries): the gateway waits for it this long, so does this."""


class Admin:
    """The admin content API of one project."""

    def __init__(self, stack: Stack, project: TestProject, token: str) -> None:
        self.base = f"{stack.http_url()}/admin/projects/{project.key}"
        self.headers = {"Authorization": f"Bearer {token}"}

    def put(self, path: str, body: str | bytes, content_type: str, **params: Any) -> httpx.Response:
        headers = {**self.headers, "Content-Type": content_type}
        return httpx.put(
            f"{self.base}{path}",
            content=body,
            headers=headers,
            params=params,
            timeout=SAVE_TIMEOUT_S,
        )

    def put_json(self, path: str, body: Any) -> httpx.Response:
        return httpx.put(
            f"{self.base}{path}", json=body, headers=self.headers, timeout=SAVE_TIMEOUT_S
        )

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.base}{path}", headers=self.headers, params=params)

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return httpx.post(f"{self.base}{path}", json=body, headers=self.headers, timeout=10)


class Rsvp:
    """An RSVP.ai caller, sending what BOT5's client sends (no lang, no stage) unless told."""

    def __init__(self, stack: Stack, project: TestProject) -> None:
        self.url = f"{stack.http_url()}/sandbox/chat"
        self.project = project

    def raw(self, **params: Any) -> httpx.Response:
        return httpx.get(self.url, params=params, timeout=15)

    def ask(self, q: str, uid: str = "123459", **params: Any) -> dict[str, Any]:
        query = {"botid": str(self.project.key), "token": self.project.secret, "uid": uid, "q": q}
        response = self.raw(**query, **params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json;charset=utf-8"
        body: dict[str, Any] = response.json()
        return body


def rsvp(stack: Stack, bot: TestProject, uid: str, q: str) -> dict[str, Any]:
    """User `uid` asks `bot` `q` on the sandbox endpoint; the JSON answer (status 200)."""
    params = {"botid": str(bot.key), "token": bot.secret, "uid": uid, "q": q}
    answer = httpx.get(f"{stack.http_url()}/sandbox/chat", params=params, timeout=20)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body
