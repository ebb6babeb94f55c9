"""The chat page plays spoken replies: a state's `audio` item reaches chromium as BESSER's
agent_reply_audio (float32 samples said by the media service) and plays in the page's audio
player for as long as the speech lasts."""

import json
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from tests.support.plugin import Stack, TestProject

from .chat import PageOpener, launch_chromium, upload_machine

SAID = "The museum opens at nine in the morning."
# Resolves once playback has moved past 0.2 s (the timeupdate event, not a poll).
PLAY = """audio => new Promise((resolve, reject) => {
  audio.addEventListener("timeupdate", () => audio.currentTime > 0.2 && resolve(audio.currentTime));
  audio.play().catch(reject);
})"""


@pytest.fixture
async def playing_browser() -> AsyncIterator[Browser]:
    """A chromium that plays audio without a click first (and to no sound card)."""
    async for found in launch_chromium("--autoplay-policy=no-user-gesture-required"):
        yield found


async def test_a_spoken_reply_plays_in_the_page(
    chat_stack: Stack,
    project: TestProject,
    admin_token: str,
    playing_browser: Browser,
    open_page: PageOpener,
) -> None:
    """The reply's text shows, then an audio player whose WAV lasts the speech's length and
    whose playback moves on when played."""
    machine = {"initial": "start", "states": {"start": {"body": [{"text": SAID}, {"audio": SAID}]}}}
    upload_machine(
        chat_stack, project, admin_token, json.dumps(machine).encode(), "application/json"
    )
    chat = await open_page(playing_browser)
    page = chat.page
    await page.goto(f"{chat_stack.http_url()}/chat/?project={project.key}&token={project.secret}")
    await expect(page.locator(".msg--bot[data-action=agent_reply_str]")).to_contain_text(SAID)
    audio = page.locator(".msg--bot[data-action=agent_reply_audio] audio")
    await expect(audio).to_have_count(1)
    await expect(audio).to_have_js_property("readyState", 4, timeout=10_000)  # enough data
    seconds = await audio.evaluate("a => a.duration")
    assert 1.0 < seconds < 10.0
    played = await audio.evaluate(PLAY)
    assert played > 0.2
    assert not chat.errors, chat.errors
