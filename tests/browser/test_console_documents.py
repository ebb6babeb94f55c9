"""The console's Documents page in chromium: an operator uploads a Markdown document (a new
version the rag engine answers from), sees it listed, has a file of another format refused with
the API's problem, and removes the document."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject

from .chat import PageOpener
from .console import (
    CONSOLE_VIEWPORT,
    signed_in,
)


@pytest.fixture(scope="module")
def documents_stack(
    backends: Backends, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A gateway and a dialog."""
    running = Stack(backends, tmp_path_factory.mktemp("logs"))
    yield running.start(dialogs=1)
    running.stop()


async def test_upload_list_refuse_and_remove_documents(
    documents_stack: Stack,
    project: TestProject,
    admin_token: str,
    browser: Browser,
    open_page: PageOpener,
    tmp_path: Path,
) -> None:
    """Upload shows the new version and lists the document; a .docx shows the 415 problem;
    Remove takes it off the list."""
    handbook = tmp_path / "handbook.md"
    handbook.write_text("## Parking\n\nThe car park closes at midnight.\n")
    slides = tmp_path / "slides.docx"
    slides.write_bytes(b"PK\x03\x04 not a document we read")
    chat = await open_page(browser, viewport=CONSOLE_VIEWPORT)
    page = chat.page
    await signed_in(page, documents_stack, admin_token, f"#/p/{project.key}/documents")
    await expect(page.locator("#documents-list")).to_contain_text("No documents yet.")

    await page.locator("#documents-file").set_input_files(str(handbook))
    saved = page.locator("#documents-result .alert--ok[data-version]")
    await expect(saved).to_contain_text("handbook.md saved as version 1.")
    item = page.locator("#documents-list [data-name='handbook.md']")
    await expect(item).to_contain_text("handbook.md")

    await page.locator("#documents-file").set_input_files(str(slides))
    await expect(page.locator("#documents-result")).to_contain_text("415")
    await expect(page.locator("#documents-result")).to_contain_text("is no PDF, Markdown")

    await item.get_by_role("button", name="Remove").click()
    await expect(page.locator("#documents-list")).to_contain_text("No documents yet.")
    assert all("415" in e for e in chat.errors), chat.errors
