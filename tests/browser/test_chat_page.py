"""Switchboard's chat page (/chat/) in chromium, speaking BESSER's WebSocket protocol to the
real stack: gateway (BESSER port), dialog running eval/weather_machine.yaml, media.

Set CHAT_SCREENSHOTS=docs/screenshots to keep the README's screenshots from a run.
"""

import asyncio
import base64
import json
import os
import wave
from collections.abc import AsyncIterator
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageStat
from playwright.async_api import Browser, Locator, Page, expect

from tests.support.plugin import Stack, TestProject

from .chat import VIEWPORT, ChatPage, PageOpener, launch_chromium, upload_machine

GREETING = "Ask me about the weather."
VOICE_WAV = Path(__file__).parents[1] / "fixtures" / "voice" / "weather.wav"
PHONE_WIDTH = 390
TINY_PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def chat_url(stack: Stack, project: TestProject) -> str:
    return f"{stack.http_url()}/chat/?project={project.key}&token={project.secret}"


def bot(page: Page, action: str = "") -> Locator:
    """Bot bubbles (of one BESSER action, if given)."""
    return page.locator(f".msg--bot[data-action={action}]" if action else ".msg--bot")


async def open_and_greet(chat: ChatPage, url: str) -> Page:
    """Open the page on a new session and wait for the greeting and its options."""
    page = chat.page
    await page.goto(url)
    await expect(page.locator("#status")).to_have_attribute("data-state", "connected")
    await expect(bot(page, "agent_reply_str").first).to_contain_text(GREETING)
    await expect(page.get_by_role("button", name="Weather in Paris")).to_be_enabled()
    return page


async def ask_paris(page: Page) -> Locator:
    """Click the greeting's "Weather in Paris" and wait for the chart it answers with."""
    await page.get_by_role("button", name="Weather in Paris").last.click()
    await expect(page.locator(".msg--user .msg__body").last).to_have_text("Weather in Paris")
    await expect(bot(page, "agent_reply_markdown").last).to_contain_text("Paris: sunny")
    chart = bot(page, "agent_reply_plotly").last.locator(".chart[data-rendered=true]")
    await expect(chart.locator(".bars .point path")).to_have_count(2)  # Mon and Tue
    return chart


async def transcript(page: Page) -> list[tuple[str, str, str]]:
    """Every bubble as (who, BESSER action, text); charts by their title only."""
    rows = await page.locator(".msg").evaluate_all(
        """rows => rows.map(row => [row.classList.contains("msg--bot") ? "bot" : "user",
            row.dataset.action,
            row.dataset.action === "agent_reply_plotly" ? row.querySelector(".chart")
              .getAttribute("aria-label") : row.querySelector(".msg__body").innerText])"""
    )
    return [(who, action, text) for who, action, text in rows]


def check_png(path: Path) -> Image.Image:
    """A real viewport-sized PNG with something on it."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(path).convert("RGB")
    assert image.size == (VIEWPORT["width"], VIEWPORT["height"])
    assert max(ImageStat.Stat(image).stddev) > 10, "the screenshot is blank"
    return image


def colourful_share(png: bytes) -> float:
    """The share of strongly coloured pixels (plotly's bars; axes and text are grey)."""
    saturation = Image.open(BytesIO(png)).convert("RGB").convert("HSV").getchannel("S")
    histogram = saturation.histogram()
    return sum(histogram[100:]) / sum(histogram)


async def scrolled_down(page: Page) -> None:
    """Wait until the conversation shows its newest message. Polled with page.evaluate:
    wait_for_function builds its predicate with eval, which the page's CSP forbids (it failed
    whenever the first check was not already true)."""
    at_bottom = (
        "(log => log.scrollHeight - log.scrollTop - log.clientHeight < 2)"
        "(document.getElementById('log'))"
    )
    for _ in range(200):
        if await page.evaluate(at_bottom):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the conversation did not scroll to its newest message")


def keep_for_docs(path: Path, name: str) -> None:
    """With CHAT_SCREENSHOTS set, copy a screenshot there (an optimised PNG)."""
    folder = os.environ.get("CHAT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        Image.open(path).save(Path(folder) / f"chat-{name}.png", optimize=True)


def test_page_assets_and_config(chat_stack: Stack) -> None:
    """/chat/ serves the page (with a CSP), its config (the BESSER port) and plotly's bundle,
    and nothing outside its folder."""
    http = chat_stack.http_url()
    page = httpx.get(f"{http}/chat/")
    assert page.status_code == 200 and "chat.js" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    config = httpx.get(f"{http}/chat/config.json").json()
    assert config["besser_port"] == int(chat_stack.gateway.env["GATEWAY_BESSER_PORT"])
    plotly = httpx.get(f"{http}/chat/vendor/plotly.min.js?v={config['plotly_version']}")
    assert plotly.status_code == 200 and "max-age=31536000" in plotly.headers["cache-control"]
    assert len(plotly.content) > 1_000_000
    for asset in ["chat.js", "chat.css", "vendor/marked.min.js", "vendor/purify.min.js"]:
        assert httpx.get(f"{http}/chat/{asset}").status_code == 200, asset
    for escape in ["..%2fconfig.py", "%2e%2e%2fconfig.py", "vendor%2f..%2f..%2fmain.py"]:
        assert httpx.get(f"{http}/chat/{escape}").status_code == 404, escape


async def test_greeting_option_and_chart(
    chat_stack: Stack, weather_bot: TestProject, chat_page: ChatPage
) -> None:
    """A new session is greeted; clicking an option asks the bot, which answers with Markdown,
    a table, a bar chart and HTML, then greets again."""
    page = await open_and_greet(chat_page, chat_url(chat_stack, weather_bot))
    greeted = check_png(await chat_page.screenshot("greeting"))

    chart = await ask_paris(page)
    await expect(bot(page, "agent_reply_markdown").last.locator("strong")).to_have_text("Paris")
    table = bot(page, "agent_reply_dataframe").last.locator("table")
    await expect(table.locator("thead th")).to_have_text(["day", "temp"])
    await expect(table.locator("tbody tr")).to_have_count(2)
    await expect(bot(page, "agent_reply_html").last.locator("small")).to_contain_text("You asked")
    await expect(bot(page, "agent_reply_options")).to_have_count(2)  # auto: it greets again
    paris = page.get_by_role("button", name="Weather in Paris")
    await expect(paris.first).to_be_disabled()
    await expect(paris.last).to_be_enabled()

    await chart.scroll_into_view_if_needed()
    answered = check_png(await chat_page.screenshot("weather"))
    assert answered.tobytes() != greeted.tobytes()
    assert colourful_share(await chart.screenshot()) > 0.03, "the chart has no coloured bars"
    keep_for_docs(chat_page.shots / "weather.png", "weather")
    assert not chat_page.errors, chat_page.errors


async def test_reload_replays_history_without_greeting_again(
    chat_stack: Stack, weather_bot: TestProject, chat_page: ChatPage
) -> None:
    """After a reload the page resumes its session: the conversation is replayed as history,
    and the bot does not greet again (its next answer is to what the user says next)."""
    page = await open_and_greet(chat_page, chat_url(chat_stack, weather_bot))
    await ask_paris(page)
    await expect(bot(page, "agent_reply_options")).to_have_count(2)
    before = await transcript(page)

    await page.reload()
    await expect(page.locator(".msg[data-history=true]")).to_have_count(len(before))
    await expect(page.locator(".chart[data-rendered=true]")).to_have_count(1)
    assert await transcript(page) == before
    paris = page.get_by_role("button", name="Weather in Paris")
    await expect(paris.first).to_be_disabled()  # answered before the reload
    await expect(paris.last).to_be_enabled()  # still open

    await page.get_by_label("Message").fill("where is your weather station")
    await page.get_by_label("Message").press("Enter")
    location = bot(page, "agent_reply_location")
    await expect(location).to_contain_text("48.83630, 2.33640")
    await expect(location.get_by_role("link")).to_have_attribute(
        "href", "https://www.openstreetmap.org/?mlat=48.8363&mlon=2.3364#map=14/48.8363/2.3364"
    )
    await expect(bot(page, "agent_reply_options")).to_have_count(3)  # station → greeting
    await scrolled_down(page)
    keep_for_docs(await chat_page.screenshot("history"), "history")
    first_live = page.locator(".msg[data-history=false]").first
    assert await first_live.get_attribute("class") == "msg msg--user", "greeted after reload"
    assert not chat_page.errors, chat_page.errors


async def test_file_and_start_over(
    chat_stack: Stack, weather_bot: TestProject, chat_page: ChatPage, tmp_path: Path
) -> None:
    """A PDF sent with the attach button reaches the bot; "Start over" clears the page and the
    bot greets again."""
    page = await open_and_greet(chat_page, chat_url(chat_stack, weather_bot))
    pdf = tmp_path / "forecast.pdf"
    pdf.write_bytes(TINY_PDF)
    await page.locator("#file").set_input_files(pdf)
    await expect(page.locator(".msg--user[data-action=user_file]")).to_contain_text("forecast.pdf")
    thanks = bot(page, "agent_reply_str").filter(has_text="Thanks for")
    await expect(thanks).to_contain_text("forecast.pdf")
    await expect(bot(page, "agent_reply_options")).to_have_count(2)  # got_file → greeting

    await page.get_by_role("button", name="Start over").click()
    await expect(page.locator(".notice")).to_have_text("Started over.")
    await expect(bot(page, "agent_reply_options")).to_have_count(1)
    await expect(bot(page)).to_have_count(2)  # the greeting's text and options, nothing older
    await expect(bot(page, "agent_reply_str")).to_contain_text(GREETING)
    assert not chat_page.errors, chat_page.errors


async def test_start_over_twice_in_a_row_still_ends_greeted(
    chat_stack: Stack, weather_bot: TestProject, chat_page: ChatPage
) -> None:
    """The "Start over" button clicked again right after the bot greeted still ends greeted: it
    rests while the dialog would take a second reset as a repeat and say nothing."""
    page = await open_and_greet(chat_page, chat_url(chat_stack, weather_bot))
    start_over = page.get_by_role("button", name="Start over")
    for _ in range(2):
        await start_over.click()  # waits until the button is enabled again
        await expect(page.locator(".notice")).to_have_text("Started over.")
        await expect(bot(page, "agent_reply_str")).to_contain_text(GREETING)
        await expect(bot(page, "agent_reply_options")).to_have_count(1)
    assert not chat_page.errors, chat_page.errors


def showcase_machine() -> dict[str, object]:
    """A bot whose greeting uses the part kinds the weather bot does not: hostile HTML, an
    image, a file."""
    jpeg = BytesIO()
    Image.new("RGB", (24, 16), (200, 60, 40)).save(jpeg, "JPEG")
    html = '<p>HTML <b>bold</b><img src="data:," onerror="window.pwned=1"><script>window.pwned=2</script>'
    body = [
        {"html": html + '<a href="https://example.org/">a link</a></p>'},
        {"image": base64.b64encode(jpeg.getvalue()).decode()},
        {"file": {"name": "notes.txt", "type": "text/plain", "base64": "aGVsbG8K"}},
    ]
    return {"initial": "start", "states": {"start": {"body": body}}}


async def test_html_image_and_file_parts(
    chat_stack: Stack, project: TestProject, admin_token: str, chat_page: ChatPage
) -> None:
    """HTML is sanitised (no script runs, links open in a new tab without a referrer), a JPEG
    is shown, and a file downloads with its name and bytes."""
    machine = json.dumps(showcase_machine()).encode()
    upload_machine(chat_stack, project, admin_token, machine, "application/json")
    page = chat_page.page
    await page.goto(chat_url(chat_stack, project))

    html = bot(page, "agent_reply_html")
    await expect(html.locator("b")).to_have_text("bold")
    await expect(html.get_by_role("link")).to_have_attribute("rel", "noopener noreferrer")
    await expect(page.locator("#log script, #log [onerror]")).to_have_count(0)
    image = bot(page, "agent_reply_image").locator("img")
    await expect(image).to_have_js_property("naturalWidth", 24)
    link = bot(page, "agent_reply_file").get_by_role("link")
    await expect(link).to_contain_text("notes.txt")
    async with page.expect_download() as download:
        await link.click()
    saved = await (await download.value).path()
    assert (await download.value).suggested_filename == "notes.txt"
    assert saved.read_bytes() == b"hello\n"
    assert await page.evaluate("window.pwned") is None
    assert not chat_page.errors, chat_page.errors


HOSTILE_HTML = [
    '<p id="plain">Lights on/off, <a href="/online" title="turn on">online</a>, \'on\' "on"</p>',
    '<img src=data:, onerror="window.pwned=1">',
    '<IMG SRC="data:,"ONERROR="window.pwned=2">',
    "<svg/onload=window.pwned=3>",
    '<img src="data:,"\nonerror=window.pwned=4>',
    "<details open ontoggle=window.pwned=5><summary>s</summary></details>",
    '<svg><animate onbegin="window.pwned=6" attributeName="x" dur="1s"></animate></svg>',
]
LIST_VIOLATIONS = """
window.violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.violations.push(e.violatedDirective));
"""
HANDLER_ATTRIBUTES = """
[...document.querySelectorAll("#log *")]
  .flatMap((e) => [...e.attributes].map((a) => a.name))
  .filter((name) => /^on/i.test(name))
"""


async def test_hostile_html_never_reaches_a_parser(
    chat_stack: Stack, project: TestProject, admin_token: str, chat_page: ChatPage
) -> None:
    """A reply whose HTML or markdown carries inline handlers shows its text as written, runs
    nothing, and causes no CSP violation: no parser of the page ever sees the handlers."""
    body = [{"html": html} for html in HOSTILE_HTML]
    body.append({"markdown": "**turn on** <img src=data:, onerror=window.pwned=7>"})
    machine = {"initial": "start", "states": {"start": {"body": body}}}
    upload_machine(
        chat_stack, project, admin_token, json.dumps(machine).encode(), "application/json"
    )
    page = chat_page.page
    await page.add_init_script(LIST_VIOLATIONS)
    await page.goto(chat_url(chat_stack, project))

    await expect(bot(page, "agent_reply_markdown").locator("strong")).to_have_text("turn on")
    plain = page.locator("#log #plain")
    await expect(plain).to_have_text("""Lights on/off, online, 'on' "on\"""")
    await expect(plain.get_by_role("link")).to_have_attribute("href", "/online")
    await expect(plain.get_by_role("link")).to_have_attribute("title", "turn on")
    await expect(bot(page, "agent_reply_html")).to_have_count(len(HOSTILE_HTML))
    assert await page.evaluate(HANDLER_ATTRIBUTES) == []
    assert await page.evaluate("window.pwned") is None
    assert await page.evaluate("window.violations") == []
    assert not chat_page.errors, chat_page.errors


@pytest.fixture
async def voice_browser() -> AsyncIterator[Browser]:
    """A chromium whose microphone plays tests/fixtures/voice/weather.wav once."""
    fake_audio = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={VOICE_WAV}%noloop",
    ]
    async for found in launch_chromium(*fake_audio):
        yield found


async def test_voice_message(
    chat_stack: Stack, weather_bot: TestProject, voice_browser: Browser, open_page: PageOpener
) -> None:
    """A voice message recorded from the microphone goes out as a WAV; the server's transcript
    comes back as the user's words, and the bot answers it."""
    chat = await open_page(voice_browser, permissions=["microphone"])
    page = await open_and_greet(chat, chat_url(chat_stack, weather_bot))
    with wave.open(str(VOICE_WAV)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    await page.get_by_role("button", name="Record a voice message").click()
    await expect(page.locator("#record")).to_have_attribute("aria-pressed", "true")
    await page.wait_for_timeout(seconds * 1000 + 700)  # as long as the file, and a bit
    await page.get_by_role("button", name="Stop and send").click()

    await expect(page.locator(".msg--user[data-action=user_voice]")).to_contain_text("Voice")
    echo = page.locator(".msg--user[data-action=user_message][data-history=true]")
    await expect(echo).to_contain_text("weather")  # what pocketsphinx hears in the recording
    answer = page.locator(".msg--user[data-action=user_message] ~ .msg--bot[data-history=false]")
    await expect(answer.first).to_be_visible()
    assert not chat.errors, chat.errors


async def test_phone_sized_screen(
    chat_stack: Stack, weather_bot: TestProject, browser: Browser, open_page: PageOpener
) -> None:
    """On a phone-sized screen the page, chart included, fits the width (no sideways scroll)."""
    chat = await open_page(browser, viewport={"width": PHONE_WIDTH, "height": 800})
    page = await open_and_greet(chat, chat_url(chat_stack, weather_bot))
    await ask_paris(page)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    await page.locator(".msg--user").first.scroll_into_view_if_needed()
    keep_for_docs(await chat.screenshot("phone"), "phone")


async def test_an_operators_messages_look_like_a_person_and_nobody_types_meanwhile(
    chat_stack: Stack, weather_bot: TestProject, admin_token: str, chat_page: ChatPage
) -> None:
    """Once an operator takes the chat over, their message is marked "Operator" and looks
    unlike the bot's, and the user's next message shows no typing dots (the bot is silent)."""
    page = await open_and_greet(chat_page, chat_url(chat_stack, weather_bot))
    key = f"switchboard.chat.session.{weather_bot.key}"
    session = await page.evaluate(
        "(key) => localStorage.getItem(key) || sessionStorage.getItem(key)", key
    )
    assert session
    base = f"{chat_stack.http_url()}/admin/projects/{weather_bot.key}/conversations/{session}"
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {admin_token}"}, timeout=60
    ) as admin:
        assert (await admin.post(f"{base}/handoff")).status_code == 200
        said = await admin.post(
            f"{base}/messages", json={"text": "Hi, I am Sam from the front desk."}
        )
        assert said.status_code == 202, said.text
    person = page.locator(".msg--operator")
    await expect(person.locator(".msg__body")).to_have_text("Hi, I am Sam from the front desk.")
    await expect(person.locator(".msg__who")).to_have_text("Operator")
    colours = await page.evaluate(
        """() => [".msg--operator .msg__body", ".msg--bot .msg__body"].map(
             (s) => getComputedStyle(document.querySelector(s)).backgroundColor)"""
    )
    assert colours[0] != colours[1], colours
    await page.locator("#input").fill("Thanks Sam")
    await page.locator("#input").press("Enter")
    await expect(page.locator(".msg--user .msg__body").last).to_have_text("Thanks Sam")
    assert await page.evaluate("() => document.getElementById('typing').hidden")
    assert not chat_page.errors, chat_page.errors
