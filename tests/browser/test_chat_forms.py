"""A state machine's form on the chat page in chromium: the page draws it, and sending it is
BESSER's user_gui_event, which moves the machine along a transition on the form's payload."""

import pytest
from playwright.async_api import expect

from tests.support.plugin import Stack, TestProject

from .chat import ChatPage, upload_machine

MACHINE = b"""\
initial: menu
states:
  menu:
    body:
      - text: "What would you like?"
      - form:
          id: order
          title: "Your pizza"
          fields:
            - {name: qty, label: "How many?", type: number}
            - {name: size, label: "Size", type: choice, options: [small, large]}
          submit: Order
    transitions:
      - when: event
        event: gui
        if: "event.elementId == 'order' and event.value.qty >= 5 and event.value.size == 'large'"
        to: party
      - {when: event, event: gui, if: "event.action == 'onSubmit'", to: ordered}
  party:
    body: [{text: "A party: {qty} {size} pizzas!"}]
  ordered:
    body: [{text: "Order received."}]
"""


@pytest.fixture
def form_bot(chat_stack: Stack, project: TestProject, admin_token: str) -> TestProject:
    upload_machine(chat_stack, project, admin_token, MACHINE, "application/yaml")
    return project


async def test_a_form_sent_from_the_page_is_a_gui_event_the_machine_matches(
    chat_stack: Stack, form_bot: TestProject, chat_page: ChatPage
) -> None:
    """Filling in 6 large pizzas and pressing Order sends the form's values; the machine takes
    the transition whose condition they meet, its answer filled with them, and the form cannot
    be sent again."""
    page = chat_page.page
    await page.goto(f"{chat_stack.http_url()}/chat/?project={form_bot.key}&token={form_bot.secret}")
    form = page.locator(".msg--bot[data-action=agent_reply_form] form")
    await expect(form).to_contain_text("Your pizza")
    await form.get_by_label("How many?").fill("6")
    await form.get_by_label("Size").select_option("large")
    await form.get_by_role("button", name="Order").click()
    await expect(page.locator(".msg--user .msg__body").last).to_have_text("qty: 6, size: large")
    reply = page.locator(".msg--bot[data-action=agent_reply_str]").last
    await expect(reply).to_contain_text("A party: 6 large pizzas!")
    await expect(form.get_by_role("button", name="Order")).to_be_disabled()
    assert chat_page.errors == []
