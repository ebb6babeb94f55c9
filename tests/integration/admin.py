"""The admin HTTP API as tests call it (httpx): a client for a token, a token scoped to some
projects, and the handoff calls an operator makes."""

import asyncio
from typing import Any
from uuid import UUID, uuid4

import httpx

from shared.db import opened
from shared.identity import TokenStore
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject


def admin(stack: Stack, token: str) -> httpx.Client:
    """A client of the first gateway's admin API, signed with `token`."""
    return httpx.Client(
        base_url=stack.http_url(), headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def scoped_token(backends: Backends, *projects: UUID) -> str:
    """An admin token for `projects` only."""

    async def create() -> str:
        async with opened(backends.database_url) as database:
            store = TokenStore(database)
            made = await store.create_admin(f"scoped-{uuid4().hex}", projects=list(projects))
            return made.secret

    return asyncio.run(create())


def handoff(client: httpx.Client, bot: TestProject, session: str, method: str) -> dict[str, Any]:
    """Take a session over (POST) or hand it back (DELETE); the handoff's state."""
    answer = client.request(method, f"/admin/projects/{bot.key}/conversations/{session}/handoff")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def say(client: httpx.Client, bot: TestProject, session: str, text: str) -> None:
    """The operator says `text` in a session (accepted: 202)."""
    url = f"/admin/projects/{bot.key}/conversations/{session}/messages"
    assert client.post(url, json={"text": text}).status_code == 202
