"""The operator console (/console/) in chromium against the real stack: gateway, a dialog and a
telemetry replica, with a simulated robot on the XPARO typed API.

Set CONSOLE_SCREENSHOTS=docs/screenshots to keep the README's console tour from a run.
"""

import re
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from playwright.async_api import Page, expect

from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject

from .chat import ChatPage
from .console import (
    WARD_AIML,
    Robot,
    admin_token_named,
    backfill,
    chart_values,
    create_project,
    fill_editor,
    go_to,
    open_route,
    sandbox_ask,
    save_aiml,
    screenshot,
    signed_in,
    until,
)

BROKEN_AIML = """<aiml version="2.0">
  <category>
    <pattern>HELLO</pattern>
    <template>Hi there</templat>
  </category>
</aiml>
"""


def test_console_assets_and_policy(console_stack: Stack) -> None:
    """/console/ serves the page under a strict CSP, its config (where "try it" chats) and
    plotly's bundle, and nothing outside its folder."""
    http = console_stack.http_url()
    page = httpx.get(f"{http}/console/")
    assert page.status_code == 200 and "js/app.js" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    config = httpx.get(f"{http}/console/config.json").json()
    assert config["rsvp_endpoint"] == "sandbox" and config["plotly_version"]
    plotly = httpx.get(f"{http}/console/vendor/plotly.min.js?v={config['plotly_version']}")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    for asset in ["console.css", "js/app.js", "js/api.js", "js/pages/robots.js"]:
        assert httpx.get(f"{http}/console/{asset}").status_code == 200, asset
    for escape in ["..%2fconfig.py", "%2e%2e%2fconsole_page.py", "js%2f..%2f..%2fmain.py"]:
        assert httpx.get(f"{http}/console/{escape}").status_code == 404, escape


async def test_wrong_token_shows_the_problem(console_stack: Stack, console: ChatPage) -> None:
    """A token the gateway does not know is refused with the API's own words, and the operator
    stays on the sign-in page."""
    page = console.page
    await open_route(page, console_stack, "")
    await page.get_by_label("Admin token").fill("sbadm_" + "0" * 64)
    await page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("Authentication required (401)")
    await expect(alert).to_contain_text("unknown admin token")
    await expect(page.locator("#shell")).to_have_attribute("data-signed-in", "false")
    assert not console.errors or all("401" in e for e in console.errors), console.errors


@pytest.mark.timeout(300)
async def test_operator_flow(
    console_stack: Stack, operator_token: str, console: ChatPage, nc: NatsClient, tmp_path: Path
) -> None:
    """Sign in, create a project, upload AIML, chat on the test stage, publish, find the
    conversation, watch a simulated robot's telemetry chart move and command it, and follow
    the live event feed."""
    page = console.page
    await open_route(page, console_stack, "")
    await screenshot(page, tmp_path, "login")
    await signed_in(page, console_stack, operator_token)

    suffix = uuid4().hex[:4]
    made = await create_project(page, f"st-marys-ward-{suffix}", "St Mary's ward assistant")
    await upload_aiml(page, tmp_path)
    await try_it(page, tmp_path)
    uid = await page.locator("#try-session").inner_text()
    await publish(page, made)
    await conversation_appears(page, made, uid, tmp_path)
    await more_projects(console_stack, operator_token, suffix)
    await go_to(page, "projects")
    row = page.locator(f"#projects-table tr[data-project='{made.key}']")
    await expect(row).to_be_visible()
    await screenshot(page, tmp_path, "projects")

    await backfill(nc.jetstream(), made.key, "ward-bot-1", minutes=4.5)
    robot = Robot(console_stack.typed_url(made, robot="ward-bot-1"))
    async with robot.running():
        await row.get_by_role("link", name="Robots").click()
        await telemetry_moves(page, made)
        await command_is_acknowledged(page, robot)
        await page.evaluate("() => window.scrollTo(0, 0)")
        await screenshot(page, tmp_path, "robots")
        await live_events(page, console_stack, operator_token, made, tmp_path)
    assert not [e for e in console.errors if "404" not in e], console.errors


async def more_projects(stack: Stack, token: str, suffix: str) -> None:
    """Two more projects, so the projects page looks like a deployment's."""
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        for name, title in [
            ("childrens-reception", "Children's hospital reception"),
            ("pharmacy-runners", "Pharmacy delivery robots"),
        ]:
            body = {"name": f"{name}-{suffix}", "title": title}
            made = await client.post(f"{stack.http_url()}/admin/projects", json=body)
            assert made.status_code == 201, made.text


async def upload_aiml(page: Page, shots: Path) -> None:
    await fill_editor(page, WARD_AIML)
    await page.locator("#validate").click()
    await expect(page.locator("#content-result .alert--ok")).to_be_visible()
    await page.locator("#save").click()
    saved = page.locator("#content-result .alert--ok[data-version]")
    await expect(saved).to_contain_text("Saved as version")
    await expect(page.locator("#stages [data-stage=test] .badge")).not_to_have_text("none")
    await screenshot(page, shots, "content")


async def try_it(page: Page, shots: Path) -> None:
    await go_to(page, "try")
    for question, answer in [("hello", "ward assistant"), ("when are visiting hours", "10:00")]:
        await page.locator("#try-input").fill(question)
        await page.locator("#try-input").press("Enter")
        await expect(page.locator(".bubble--bot").last).to_contain_text(answer)
    await expect(page.locator(".bubble--bot .badge").last).to_have_text("aiml")
    await screenshot(page, shots, "try-it")


async def publish(page: Page, project: TestProject) -> None:
    await go_to(page, "content")
    await page.locator("#publish").click()
    await page.get_by_role("dialog").get_by_role("button", name="Publish").click()
    test_badge = await page.locator("#stages [data-stage=test] .badge").inner_text()
    await expect(page.locator("#stages [data-stage=release] .badge")).to_have_text(test_badge)
    await expect(page.locator("#publish")).to_be_disabled()


async def conversation_appears(page: Page, project: TestProject, uid: str, shots: Path) -> None:
    await go_to(page, "conversations")
    row = page.locator(f".session[data-session='{uid}']")
    await expect(row).to_be_visible()
    await row.click()
    transcript = page.locator("#transcript .transcript")
    await expect(transcript.locator(".turn--user .turn__text").first).to_have_text("hello")
    await expect(transcript.locator(".turn--bot .turn__text").last).to_contain_text("10:00")
    await screenshot(page, shots, "conversations")


async def telemetry_moves(page: Page, project: TestProject) -> None:
    row = page.locator("#fleet tr[data-robot='ward-bot-1']")
    await expect(row.locator(".badge")).to_have_text("online")
    await row.get_by_role("link", name="ward-bot-1").click()
    await expect(page.locator(".tile[data-metric=cpu_usage]")).to_be_visible()
    await until(
        page,
        "() => document.getElementById('telemetry-chart').dataset.rendered",
        lambda v: v == "true",
        what="the chart rendered",
    )
    first = await chart_values(page)
    assert first, "nothing plotted"
    moved = await until(
        page,
        "() => { const el = document.getElementById('telemetry-chart');"
        " return el.data ? el.data[2].y : null; }",
        lambda y: y is not None and y != first,
        within_s=30,
        what="the plotted averages changed",
    )
    assert len(moved) >= len(first)


async def command_is_acknowledged(page: Page, robot: Robot) -> None:
    await page.locator("#command-type").select_option("remote_command")
    await page.locator("#command-send").click()
    followed = page.locator("#command-status .followed .badge")
    await expect(followed).to_have_text("acknowledged")
    assert robot.commands and robot.commands[-1]["type"] == "remote_command"
    await expect(page.locator("#commands tbody tr").first.locator(".badge")).to_have_text(
        "acknowledged"
    )
    await expect(page.locator("#commands tbody tr").first.locator(".command-text")).to_have_text(
        "remote_command start_navigation {goal: ward-3}"
    )


async def live_events(
    page: Page, stack: Stack, token: str, project: TestProject, shots: Path
) -> None:
    await go_to(page, "events")
    await expect(page.locator("#live-state")).to_have_attribute("data-state", "open")
    await page.locator(".chip[data-kind=telemetry]").click()
    await expect(page.locator(".feed__item[data-kind=telemetry]").first).to_be_visible()
    await page.locator(".chip[data-kind=telemetry]").click()  # hide the samples again
    http = stack.http_url()
    async with httpx.AsyncClient(timeout=30) as client:
        for question in ["hello", "when are visiting hours"]:
            answer = await sandbox_ask(client, stack, project, "visitor-7", question)
            assert answer.json()["status"] == 0, answer.text
        command = {"type": "remote_command", "data": {"command": "go_to", "parameters": {}}}
        sent = await client.post(
            f"{http}/admin/projects/{project.key}/robots/ward-bot-1/commands",
            json=command,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert sent.status_code == 202, sent.text
    await expect(page.locator(".feed__item[data-kind=reply]").first).to_contain_text("10:00")
    commands = page.locator(".feed__item[data-kind=command]")
    await expect(commands.filter(has_text="delivered").first).to_be_visible()
    await screenshot(page, shots, "events")


async def test_take_over_answer_and_hand_back(
    console_stack: Stack, project: TestProject, operator_token: str, console: ChatPage
) -> None:
    """An operator takes a conversation over: the bot falls silent, what the operator says is
    the user's next RSVP answer and is marked as the operator's in the transcript; handing
    back lets the bot answer again."""
    async with httpx.AsyncClient(timeout=30) as client:
        await save_aiml(client, console_stack, operator_token, project, WARD_AIML)
        first = await sandbox_ask(client, console_stack, project, "bed-12", "hello")
        assert "ward assistant" in first.text

        page = console.page
        route = f"#/p/{project.key}/conversations/bed-12"
        await signed_in(page, console_stack, operator_token, route)
        await expect(page.locator("#handoff-state")).to_have_text("bot answering")
        await page.locator("#take-over").click()
        await expect(page.locator("#handoff-state")).to_contain_text("taken over by dana-")
        await page.locator("#operator-text").fill("A nurse is on her way to bed 12.")
        await page.locator("#operator-send").click()
        operator = page.locator("#transcript .turn--operator .turn__text")
        await expect(operator.last).to_have_text("A nurse is on her way to bed 12.")

        said = await sandbox_ask(client, console_stack, project, "bed-12", "thank you")
        assert "A nurse is on her way" in said.text, said.text
        await page.locator("#hand-back").click()
        await expect(page.locator("#handoff-state")).to_have_text("bot answering")
        again = await sandbox_ask(client, console_stack, project, "bed-12", "hello")
        assert "ward assistant" in again.text, again.text


async def test_content_problem_is_shown_at_its_line(
    console_stack: Stack, project: TestProject, admin_token: str, console: ChatPage
) -> None:
    """Validating broken AIML shows the API's problem with its line, marks that line in the
    editor's gutter, and a click on the problem selects the line."""
    page = console.page
    await signed_in(page, console_stack, admin_token, f"#/p/{project.key}/content/aiml")
    await fill_editor(page, BROKEN_AIML)
    await page.locator("#validate").click()
    alert = page.locator("#content-result .alert--error")
    await expect(alert).to_contain_text("Invalid request (422)")
    problem = alert.locator(".problems__item").first
    await expect(problem.locator(".problems__where")).to_contain_text("line 4")
    await expect(page.locator(".editor__line--bad")).to_have_text(["4"])
    await page.locator("#content-text").evaluate("el => el.setSelectionRange(0, 0)")
    await (alert.locator(".problems__item--link").first).click()
    selected = await page.locator("#content-text").evaluate(
        "el => el.value.slice(el.selectionStart, el.selectionEnd)"
    )
    assert "</templat>" in selected


@pytest.fixture(scope="module")
def viewer_token(backends: Backends) -> str:
    """A read-only admin token (role viewer) for every project."""
    return admin_token_named(backends, f"auditor-{uuid4().hex[:4]}", role="viewer")


async def test_a_viewer_sees_every_page_without_write_controls(
    console_stack: Stack,
    project: TestProject,
    admin_token: str,
    viewer_token: str,
    console: ChatPage,
) -> None:
    """Signed in with a read-only token, the console says so, shows the projects, content,
    versions, conversations, robots and settings, and offers no control that would change
    anything; a change sent anyway is refused by the server (403)."""
    async with httpx.AsyncClient(timeout=30) as client:
        await save_aiml(client, console_stack, admin_token, project, WARD_AIML)
        said = await sandbox_ask(client, console_stack, project, "bed-7", "hello")
        assert "ward assistant" in said.text

    page = console.page
    await signed_in(page, console_stack, viewer_token, "#/projects")
    await expect(page.locator("#readonly-note")).to_be_visible()
    await expect(page.locator("#readonly-note")).to_contain_text("Read-only token")
    await expect(page.locator("#role")).to_have_text("Read-only (viewer)")
    await expect(page.locator(f"#projects-table tr[data-project='{project.key}']")).to_be_visible()
    await expect(page.locator("#new-project")).to_have_count(0)

    base = f"#/p/{project.key}"
    await open_route(page, console_stack, f"{base}/content/aiml")
    await expect(page.locator(".editor")).to_have_attribute("data-ready", "true")
    await expect(page.locator("#content-text")).to_have_value(re.compile("ward assistant"))
    await expect(page.locator("#content-text")).not_to_be_editable()
    await expect(page.locator(".version[data-version='1']")).to_be_visible()
    for write in ["#save", "#validate", "#publish", "label[for=content-file]"]:
        await expect(page.locator(write)).to_be_hidden()
    await expect(page.get_by_role("button", name="Restore to test")).to_have_count(0)

    await open_route(page, console_stack, f"{base}/conversations/bed-7")
    transcript = page.locator("#transcript .transcript")
    await expect(transcript.locator(".turn--user .turn__text").first).to_have_text("hello")
    await expect(page.locator("#handoff-state")).to_have_text("bot answering")
    for write in ["#take-over", "#operator-text", "#operator-send"]:
        await expect(page.locator(write)).to_be_hidden()

    await open_route(page, console_stack, f"{base}/robots/ward-bot-9")
    await expect(page.locator("#commands")).to_be_visible()
    await expect(page.locator("#command-send")).to_be_hidden()

    await open_route(page, console_stack, f"{base}/settings")
    name = page.locator("#settings-form [name=name]")
    await expect(name).to_have_value(re.compile("test-"))
    await expect(name).not_to_be_editable()
    for write in ["#settings-save", "#rotate", "#delete"]:
        await expect(page.locator(write)).to_be_hidden()

    refused = await page.evaluate(
        """async (key) => {
          const token = sessionStorage.getItem("switchboard.console.token");
          const answer = await fetch(`/admin/projects/${key}`, {
            method: "PATCH", body: JSON.stringify({title: "changed"}),
            headers: {Authorization: `Bearer ${token}`, "Content-Type": "application/json"}});
          return answer.status;
        }""",
        str(project.key),
    )
    assert refused == 403
    assert all("403" in e or "404" in e for e in console.errors), console.errors
