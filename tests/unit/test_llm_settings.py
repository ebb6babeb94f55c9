"""The llm engine's settings: off unless an endpoint is set, its key never shown, and a turn
never waits for the model longer than a session's next turn waits for it."""

import pytest
from pydantic import ValidationError

from services.dialog.config import DialogSettings
from services.dialog.engines.llm import Writer

pytestmark = pytest.mark.unit


def test_without_an_endpoint_the_model_is_never_asked() -> None:
    """No DIALOG_LLM_BASE_URL: the writer answers None at once (the chain goes on)."""
    assert DialogSettings().llm_base_url is None
    assert Writer().write(("s", "t", "q"), [{"role": "user", "content": "q"}]) is None


def test_the_key_is_not_shown_by_the_settings() -> None:
    """The key is a secret: printing the settings does not show it."""
    settings = DialogSettings(llm_api_key="sk-secret-value")
    assert "sk-secret-value" not in repr(settings) and "sk-secret-value" not in str(settings)


def test_the_model_timeout_must_be_shorter_than_the_early_wait() -> None:
    """Else a session's next turn would be answered before the one the model writes."""
    with pytest.raises(ValidationError, match="DIALOG_LLM_TIMEOUT_S must be shorter"):
        DialogSettings(llm_timeout_s=9.0, early_wait_s=8.0)
