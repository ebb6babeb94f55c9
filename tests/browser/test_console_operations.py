"""The operator console's day-to-day tools in chromium against the real stack: telemetry charts
that can be trusted (window, gaps, no data, older metrics, several metrics, a custom range), the
fleet overview with alert thresholds, the handoff inbox (badge, title, chime, unread), the audit
log, phone-width navigation and a route change during sign-in."""

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from nats.aio.client import Client as NatsClient
from playwright.async_api import Browser, ViewportSize, expect

from shared.contracts import TelemetrySampled
from tests.support.plugin import Stack, TestProject
from tests.support.telemetry import publish_samples

from .chat import ChatPage, PageOpener
from .console import (
    CONSOLE_VIEWPORT,
    WARD_AIML,
    go_to,
    open_route,
    sandbox_ask,
    save_aiml,
    screenshot,
    signed_in,
    until,
)

PHONE: ViewportSize = {"width": 390, "height": 844}


def sample(project: TestProject, robot: str, at: datetime, **metrics: float) -> TelemetrySampled:
    return TelemetrySampled.first(
        project_key=project.key, robot_id=robot, received_at=at, metrics=metrics
    )


async def chart(page: Any) -> Any:
    """What the telemetry chart plots: its traces' names and y values, its x-axis range and
    its annotations (plotly keeps them on the element)."""
    return await page.evaluate(
        """() => { const el = document.getElementById('telemetry-chart');
          if (!el || !el.data || !el.layout) return null;
          return { names: el.data.filter((t) => t.name).map((t) => t.name),
                   ys: el.data.map((t) => t.y), range: el.layout.xaxis.range,
                   notes: (el.layout.annotations || []).map((a) => a.text),
                   metrics: el.dataset.metrics }; }"""
    )


def span_s(value: Any) -> float:
    start, end = (datetime.fromisoformat(str(v).replace(" ", "T")) for v in value["range"])
    return (end - start).total_seconds()


async def test_telemetry_chart_spans_the_window_shows_gaps_and_says_no_data(
    console_stack: Stack,
    project: TestProject,
    operator_token: str,
    console: ChatPage,
    nc: NatsClient,
    tmp_path: Path,
) -> None:
    """A robot silent for 8 minutes: its tiles keep the battery it sent earlier, the hour's chart
    spans the whole hour with the outage drawn as a gap, Shift-click adds a second metric, and
    a custom range without samples says "No data in this window" across that range."""
    now = datetime.now(UTC)
    samples = [sample(project, "ward-bot-2", now - timedelta(minutes=20), battery=71.0)]
    for n in range(15 * 12):  # every 5 s over the last 15 minutes, but not 11 to 3 minutes ago
        at = now - timedelta(seconds=n * 5)
        if not timedelta(minutes=3) < now - at < timedelta(minutes=11):
            samples.append(
                sample(project, "ward-bot-2", at, cpu_usage=40 + n % 7, temperature=38.5)
            )
    await publish_samples(nc.jetstream(), samples)

    page = console.page
    route = f"#/p/{project.key}/robots/ward-bot-2"
    await signed_in(page, console_stack, operator_token, route)
    await expect(page.locator(".tile[data-metric=battery] .tile__value")).to_have_text("71.0")
    await page.locator(".segmented__item[data-window='1 hour']").click()
    hour = await until(
        page,
        "() => document.getElementById('telemetry-chart').dataset.window",
        lambda w: w == "1 hour",
        what="the hour drawn",
    )
    assert hour
    drawn = await chart(page)
    assert 3590 <= span_s(drawn) <= 3700, drawn["range"]  # the window, not the data's 15 min
    averages = drawn["ys"][2]
    assert None in averages, "the 8-minute outage is not drawn as a gap"
    assert drawn["notes"] == []

    await page.locator(".tile[data-metric=temperature]").click(modifiers=["Shift"])
    both = await until(
        page,
        "() => document.getElementById('telemetry-chart').dataset.metrics",
        lambda m: m == "cpu_usage,temperature",
        what="two metrics charted",
    )
    assert both
    assert (await chart(page))["names"] == ["cpu_usage", "temperature"]
    await screenshot(page, tmp_path, "telemetry")

    await page.locator(".segmented__item[data-window=Custom]").click()
    two_days_ago = (datetime.now() - timedelta(days=2)).replace(second=0, microsecond=0)
    await page.locator("#range-from").fill(two_days_ago.strftime("%Y-%m-%dT%H:%M"))
    await page.locator("#range-to").fill(
        (two_days_ago + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    )
    await page.locator("#range-apply").click()
    await until(
        page,
        "() => document.getElementById('telemetry-chart').dataset.empty",
        lambda e: e == "true",
        what="the empty range drawn",
    )
    empty = await chart(page)
    assert empty["notes"] == ["No data in this window"]
    assert span_s(empty) == 7200
    assert str(empty["range"][0]).startswith(two_days_ago.astimezone(UTC).strftime("%Y-%m-%d"))


async def test_fleet_overview_flags_robots_past_the_operators_thresholds_live(
    console_stack: Stack,
    project: TestProject,
    operator_token: str,
    console: ChatPage,
    nc: NatsClient,
    tmp_path: Path,
) -> None:
    """The operator sets "battery below 20" on the Robots page: the robot at 12 % is listed first
    and flagged, the others show their key metrics; when it reports 55 % the flag goes away by
    itself. The change is in the audit log."""
    now = datetime.now(UTC)
    js = nc.jetstream()
    await publish_samples(
        js,
        [
            sample(project, "amr-1", now, battery=88.0, cpu_usage=20.0),
            sample(project, "amr-2", now, battery=12.0, cpu_usage=35.0),
            sample(project, "amr-3", now, battery=64.0, cpu_usage=50.0),
        ],
    )
    page = console.page
    await signed_in(page, console_stack, operator_token, f"#/p/{project.key}/robots")
    await expect(page.locator("#fleet tbody tr")).to_have_count(3)
    await expect(page.locator("#menu-toggle")).to_be_hidden()  # a phone's menu only
    rule = page.locator("#alerts-form .rule").first
    await rule.get_by_label("Metric").fill("battery")
    await rule.get_by_label("Alert below").fill("20")
    await page.locator("#alerts-save").click()
    flagged = page.locator("#fleet tbody tr").first
    await expect(flagged).to_have_attribute("data-robot", "amr-2")
    await expect(flagged).to_have_attribute("data-alerting", "true")
    await expect(flagged.locator(".alerts .badge")).to_have_text("battery 12.0 < 20.0")
    await expect(page.locator("#fleet-counts")).to_contain_text("1 alerting")
    await expect(
        page.locator("#fleet tr[data-robot=amr-1] .mini-stat[data-metric=battery]")
    ).to_contain_text("88.0")
    await screenshot(page, tmp_path, "fleet")

    await publish_samples(js, [sample(project, "amr-2", datetime.now(UTC), battery=55.0)])
    await expect(page.locator("#fleet tr[data-robot=amr-2]")).to_have_attribute(
        "data-alerting", "false"
    )
    await expect(
        page.locator("#fleet tr[data-robot=amr-2] .mini-stat[data-metric=cpu_usage]")
    ).to_contain_text("35.0")

    await go_to(page, "audit")
    await expect(page.locator("#audit tbody tr").first.locator("code")).to_have_text(
        "PUT /admin/projects/{project}/alerts"
    )
    await screenshot(page, tmp_path, "audit")


async def test_inbox_badges_chimes_and_marks_unread_handoff_requests(
    console_stack: Stack,
    project: TestProject,
    operator_token: str,
    console: ChatPage,
    tmp_path: Path,
) -> None:
    """A user asks for a human while the operator reads another page: the Inbox link shows 1, the
    tab's title starts with (1) and a chime plays; the inbox lists the session as unread with
    what was said; opening it reads it (and the list says "1 turn", "2 turns"); a new message in
    a held chat is unread again."""
    async with httpx.AsyncClient(timeout=30) as client:
        await save_aiml(client, console_stack, operator_token, project, WARD_AIML)
        page = console.page
        await signed_in(page, console_stack, operator_token, f"#/p/{project.key}/robots")
        await expect(page.locator("#inbox-count")).to_be_hidden()
        said = await sandbox_ask(client, console_stack, project, "bed-21", "hello")
        assert said.json()["status"] == 0
        asked = await sandbox_ask(
            client, console_stack, project, "bed-21", "Can I speak to a human?"
        )
        assert asked.json()["status"] == 0

        await expect(page.locator("#inbox-count")).to_have_text("1")
        await expect(page).to_have_title("(1) Robots · Switchboard console")
        # the chime is counted when it plays, just after the badge shows: wait for it
        await expect(page.locator("#shell")).to_have_attribute("data-chimes", re.compile(r"^[1-9]"))
        await go_to(page, "inbox")
        item = page.locator("#inbox-waiting .inbox-item[data-session=bed-21]")
        await expect(item).to_have_attribute("data-unread", "true")
        await expect(item).to_contain_text("said: Can I speak to a human?")
        await screenshot(page, tmp_path, "inbox")
        await item.click()
        await expect(page.locator("#handoff-state")).to_have_text("bot answering")
        await expect(page.locator("#inbox-count")).to_be_hidden()
        await expect(page).to_have_title("Conversations · Switchboard console")
        await expect(page.locator(".session[data-session=bed-21]")).to_contain_text("2 turns")
        once = await sandbox_ask(client, console_stack, project, "bed-22", "hello")
        assert once.status_code == 200
        single = page.locator(".session[data-session=bed-22] .muted.small").last
        await expect(single).to_have_text("1 turn")  # not "1 turns"

        await page.locator("#take-over").click()
        await expect(page.locator("#handoff-state")).to_contain_text("taken over by")
        await go_to(page, "inbox")
        held = page.locator("#inbox-held .inbox-item[data-session=bed-21]")
        await expect(held).to_have_attribute("data-unread", "false")
        more = await sandbox_ask(client, console_stack, project, "bed-21", "my leg hurts")
        assert more.status_code == 200
        await expect(held).to_have_attribute("data-unread", "true")
        await expect(page.locator("#inbox-count")).to_have_text("1")


async def test_phone_width_navigation_folds_into_a_menu(
    console_stack: Stack,
    project: TestProject,
    operator_token: str,
    browser: Browser,
    open_page: PageOpener,
    tmp_path: Path,
) -> None:
    """At phone width the navigation is one bar with a Menu button, not 550 px above every page;
    the menu opens the links and following one closes it."""
    phone = await open_page(browser, viewport=PHONE)
    page = phone.page
    await signed_in(page, console_stack, operator_token, f"#/p/{project.key}/robots")
    await expect(page.locator("#nav")).to_be_hidden()
    await until(
        page,
        "() => document.getElementById('sidebar').getBoundingClientRect().height",
        lambda height: height < 90,
        what="the navigation folded into one bar",
    )
    await page.locator("#menu-toggle").click()
    await expect(page.locator(".nav__link[data-page=inbox]")).to_be_visible()
    await screenshot(page, tmp_path, "phone-menu")
    await go_to(page, "inbox")
    await expect(page.locator("#title")).to_have_text("Inbox")
    await expect(page.locator("#nav")).to_be_hidden()


async def test_a_page_left_while_loading_never_shows_under_the_next_title(
    console_stack: Stack, project: TestProject, operator_token: str, console: ChatPage
) -> None:
    """Leaving the projects page before its list arrived: the Robots page shows the fleet under
    its own title, never the projects table."""
    page = console.page
    await signed_in(page, console_stack, operator_token, f"#/p/{project.key}/robots")
    answered = asyncio.Event()

    async def slow(route: Any) -> None:
        await asyncio.sleep(1)  # a slow network: the list comes back after the next route
        await route.continue_()
        answered.set()

    await page.route("**/admin/projects?*", slow)
    async with page.expect_response("**/admin/projects?*"):
        await page.evaluate(
            "(key) => { location.hash = '#/projects';"
            " setTimeout(() => { location.hash = `#/p/${key}/robots`; }, 50); }",
            str(project.key),
        )
        await expect(page.locator("#title")).to_have_text("Robots")
        await answered.wait()
    await page.evaluate("() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)))")
    await expect(page.locator("#fleet-counts")).to_be_visible()
    await expect(page.locator("#projects-table")).to_have_count(0)
    await expect(page.locator("#title")).to_have_text("Robots")


FAQ = {
    "groups": [
        {
            "gid": "hours",
            "questions": ["When are visiting hours?"],
            "answer": "**10:00** to 20:00. <img src=x onerror=alert(1)> [Map](https://example.org/map)",
        },
        {"gid": "parking", "questions": ["Where can I park?"], "answer": "Car park B."},
    ]
}


async def test_try_it_and_transcripts_show_why_and_feed_the_faq(
    console_stack: Stack,
    project: TestProject,
    operator_token: str,
    console: ChatPage,
    tmp_path: Path,
) -> None:
    """Signed in as an admin, Try it chats without asking for the project secret, renders the
    Markdown answer without its hostile markup and shows the FAQ's candidates; the transcript
    shows the group and confidence per answer, "Not understood" finds the fallback, and "Add as
    paraphrase" puts the user's words in the FAQ group chosen (a new test version)."""
    http = console_stack.http_url()
    admin = {"Authorization": f"Bearer {operator_token}"}
    async with httpx.AsyncClient(timeout=30, headers=admin) as client:
        saved = await client.put(f"{http}/admin/projects/{project.key}/faq", json=FAQ)
        assert saved.status_code == 200, saved.text
        page = console.page
        await signed_in(page, console_stack, operator_token, f"#/p/{project.key}/try")
        await expect(page.locator("#secret-input")).to_have_count(0)
        for question in ["When are visiting hours?", "can I bring my dog"]:
            await page.locator("#try-input").fill(question)
            await page.locator("#try-input").press("Enter")
            await expect(page.locator(".bubble--bot:not(.bubble--pending)")).to_have_count(
                1 if question.startswith("When") else 2
            )
        first = page.locator(".bubble--bot").first
        await expect(first.locator(".bubble__text strong")).to_have_text("10:00")
        await expect(first.locator(".bubble__text a")).to_have_attribute(
            "rel", "noopener noreferrer"
        )
        assert await first.locator("[onerror]").count() == 0
        await expect(first.locator(".badge").first).to_have_text("faq")
        await expect(first.locator(".why__faq + ol li").first).to_have_text(
            "When are visiting hours? (hours) · 100 %"
        )
        await screenshot(page, tmp_path, "try-it-why")
        uid = await page.locator("#try-session").inner_text()

        await open_route(page, console_stack, f"#/p/{project.key}/conversations/{uid}")
        answer = page.locator("#transcript .turn--bot").first
        await expect(answer.locator(".turn__text strong")).to_have_text("10:00")
        await expect(answer.locator(".turn__faq")).to_have_text("FAQ hours")
        await expect(answer.locator(".turn__confidence")).to_have_text("100 %")
        await page.locator("#conv-engine").select_option("fallback")
        await expect(page.locator(f".session[data-session='{uid}']")).to_be_visible()
        await page.locator("#conv-held").check()
        await expect(page.locator(f".session[data-session='{uid}']")).to_have_count(0)
        await page.locator("#conv-held").uncheck()

        dog = page.locator("#transcript .turn--user").filter(has_text="can I bring my dog")
        await dog.get_by_role("button", name="Add as paraphrase").click()
        await page.locator("#paraphrase-group").select_option("parking")
        await page.locator("#paraphrase-add").click()
        await expect(page.locator(".toast").last).to_contain_text("Added to parking")
        faq = await client.get(f"{http}/admin/projects/{project.key}/faq")
        groups = {g["gid"]: g["questions"] for g in faq.json()["groups"]}
        assert groups["parking"] == ["Where can I park?", "can I bring my dog"]
        await screenshot(page, tmp_path, "transcript-why")


async def test_faq_and_intents_forms_say_what_is_wrong_in_plain_words(
    console_stack: Stack,
    project: TestProject,
    operator_token: str,
    console: ChatPage,
    tmp_path: Path,
) -> None:
    """The FAQ form points at each field to fix, in words (no id, spaces in it, no question), and
    saves a version once fixed; a bad upload in the text editor reads "FAQ group 1, questions:
    is empty", not pydantic's wording; the intents form catches a {slot} no slot declares."""
    page = console.page
    base = f"#/p/{project.key}/content"
    await signed_in(page, console_stack, operator_token, f"{base}/faq/form")
    group = page.locator("#faq-groups .form-group").first
    await page.locator("#form-save").click()
    await expect(page.locator("#form-problems li")).to_have_text(
        [
            "Group 1: give the group an id, e.g. visiting_hours",
            "Group 1: add at least one question, one per line",
            "Group 1: write the answer the bot gives",
        ]
    )
    await group.locator("[name=gid]").fill("visiting hours")
    await expect(group.locator(".field__error").first).to_have_text(
        "use only letters, digits and . _ : - (no spaces)"
    )
    await group.locator("[name=gid]").fill("visiting_hours")
    await group.locator("[name=questions]").fill("When can I visit?\nWhat are the visiting hours?")
    await group.locator("[name=answer]").fill("From **10:00** to 20:00.")
    await expect(group.locator(".field__error:visible")).to_have_count(0)
    await screenshot(page, tmp_path, "faq-form")
    await page.locator("#form-save").click()
    await expect(page.locator("#form-result .alert--ok")).to_contain_text("Saved as version 1")
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {operator_token}"}, timeout=60
    ) as client:
        faq = await client.get(f"{console_stack.http_url()}/admin/projects/{project.key}/faq")
    assert faq.json()["groups"][0]["questions"] == [
        "When can I visit?",
        "What are the visiting hours?",
    ]

    await page.locator("#content-view [data-view=text]").click()
    await expect(page.locator(".editor")).to_have_attribute("data-ready", "true")
    await page.locator("#content-text").fill(
        '{"groups": [{"gid": "a", "questions": [], "answer": "x"}]}'
    )
    await page.locator("#validate").click()
    problem = page.locator("#content-result .problems__item").first
    await expect(problem.locator(".problems__where")).to_have_text("FAQ group 1, questions")
    await expect(problem.locator(".problems__message")).to_have_text("is empty: give at least one")

    await open_route(page, console_stack, f"{base}/intents/form")
    intent = page.locator("#intent-list .form-group").first
    await intent.locator("[name=name]").fill("book_table")
    await intent.locator("[name=sentences]").fill("a table for {people}\nbook a table")
    await intent.locator("[name=response]").fill("A table for {people}, done.")
    await expect(intent.locator(".field__error:visible")).to_have_text(
        '{people} is not one of the slots below: add "people: <entity>" there'
    )
    await intent.locator("[name=slots]").fill("people: system_number")
    await expect(intent.locator(".field__error:visible")).to_have_count(0)
    await page.locator("#form-save").click()
    await expect(page.locator("#form-result .alert--ok")).to_contain_text("Saved as version 2")


async def test_the_state_machine_is_drawn_with_a_sessions_state_lit(
    console_stack: Stack,
    project: TestProject,
    operator_token: str,
    console: ChatPage,
    tmp_path: Path,
) -> None:
    """The weather machine is drawn as its states and transitions; choosing a session that was
    asked "Which city?" lights ask_city, and it moves on when the user names a city; that
    session's transcript renders the answer's Markdown, table, chart and HTML as the chat page
    does, and its preview in the list reads as words, not markup."""
    http = console_stack.http_url()
    machine = (Path(__file__).parents[2] / "eval" / "weather_machine.yaml").read_bytes()
    headers = {"Authorization": f"Bearer {operator_token}"}
    query = {"botid": str(project.key), "token": project.secret, "uid": "kiosk-9"}
    async with httpx.AsyncClient(timeout=30) as client:
        saved = await client.put(
            f"{http}/admin/projects/{project.key}/machine",
            content=machine,
            headers={**headers, "Content-Type": "application/yaml"},
        )
        assert saved.status_code == 200, saved.text
        asked = await client.get(f"{http}/sandbox/chat", params={**query, "q": "weather please"})
        assert "Which city" in asked.text
        page = console.page
        route = f"#/p/{project.key}/content/machine/diagram"
        await signed_in(page, console_stack, operator_token, route)
        diagram = page.locator("#machine-diagram")
        await expect(diagram.locator(".sm-state")).to_have_count(6)
        assert await diagram.locator(".sm-edge[data-from=greeting][data-to=ask_city]").count() == 1
        await page.locator("#machine-session").select_option("kiosk-9")
        await expect(diagram.locator(".sm-state--current")).to_have_attribute(
            "data-state", "ask_city"
        )
        await screenshot(page, tmp_path, "machine")
        named = await client.get(f"{http}/sandbox/chat", params={**query, "q": "Paris"})
        assert "sunny" in named.text
        await expect(diagram.locator(".sm-state--current")).to_have_attribute(
            "data-state", "greeting"
        )

        await open_route(page, console_stack, f"#/p/{project.key}/conversations/kiosk-9")
        answer = page.locator("#transcript .turn--bot").last  # the weather: every kind of part
        await expect(answer.locator(".part strong")).to_have_text("Paris")
        await expect(answer.locator(".part--table thead th")).to_have_text(["day", "temp"])
        await expect(answer.locator(".part--chart[data-rendered=true]")).to_have_count(1)
        await expect(answer.locator(".part small")).to_contain_text("You asked")
        preview = page.locator(".session[data-session=kiosk-9] .session__text")
        await expect(preview).to_have_text(re.compile(r"^Paris: sunny, 21 degrees"))  # no ** or <
        await screenshot(page, tmp_path, "transcript-parts")


async def test_replicas_and_queues_show_sockets_and_consumer_lag(
    console_stack: Stack,
    project: TestProject,
    operator_token: str,
    console: ChatPage,
    tmp_path: Path,
) -> None:
    """The replicas page shows the gateway's open sockets by protocol (a robot's typed socket
    counts) and JetStream's streams with their consumers."""
    page = console.page
    await signed_in(page, console_stack, operator_token, "#/cluster")
    await expect(page.locator("#title")).to_have_text("Replicas and queues")
    await expect(page.locator("#replica")).to_contain_text(
        re.compile(r"NATS127\.0\.0\.1:\d+ · v2\.\d+\.\d+")
    )
    await expect(page.locator("table[data-stream=CHAT] tbody tr").first).to_be_visible()
    await expect(page.locator("table[data-stream=TELEMETRY]")).to_be_visible()
    async with websockets.connect(console_stack.typed_url(project, robot="amr-9")):  # a robot
        await expect(page.locator("#sockets [data-protocol=xparo-typed] strong")).to_have_text("1")
        await screenshot(page, tmp_path, "cluster")


PAGES = [
    ("#/projects", "Projects"),
    ("#/cluster", "Replicas and queues"),
    ("#/p/{key}/content", "Content"),
    ("#/p/{key}/try", "Try it"),
    ("#/p/{key}/inbox", "Inbox"),
    ("#/p/{key}/conversations", "Conversations"),
    ("#/p/{key}/robots", "Robots"),
    ("#/p/{key}/events", "Live events"),
    ("#/p/{key}/settings", "Settings"),
    ("#/p/{key}/audit", "Audit log"),
]


@pytest.mark.timeout(300)
async def test_every_page_opens_at_desktop_and_phone_width(
    console_stack: Stack,
    project: TestProject,
    operator_token: str,
    browser: Browser,
    open_page: PageOpener,
    tmp_path: Path,
) -> None:
    """Every page of the console opens under its own title, at desktop and at phone width,
    without a script error; at phone width no page is wider than the screen."""
    sizes: list[tuple[str, ViewportSize]] = [("desktop", CONSOLE_VIEWPORT), ("phone", PHONE)]
    for width, viewport in sizes:
        opened = await open_page(browser, viewport=viewport)
        page = opened.page
        await signed_in(page, console_stack, operator_token, "#/projects")
        for route, title in PAGES:
            await open_route(page, console_stack, route.format(key=project.key))
            await expect(page.locator("#title")).to_have_text(title)
            await expect(page.locator(".loading")).to_have_count(0)
            if width == "desktop" and title == "Settings":  # the one not pictured elsewhere
                await screenshot(page, tmp_path, "settings")
            if width == "phone":
                wide = await page.evaluate("() => document.documentElement.scrollWidth")
                assert wide <= viewport["width"] + 1, f"{title} is {wide} px wide on a phone"
                name = title.lower().replace(" ", "-")
                await screenshot(page, tmp_path, f"phone-{name}")
        assert not [e for e in opened.errors if "404" not in e], opened.errors
