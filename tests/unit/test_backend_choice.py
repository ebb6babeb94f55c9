"""Which NATS and Postgres the integration suite runs against (shared/testing/backends.py)."""

from pathlib import Path

import pytest

from shared.testing import backends

pytestmark = pytest.mark.unit


def test_auto_takes_containers_only_when_a_docker_engine_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unset or `auto`: testcontainers with an engine, the embedded servers without one."""
    monkeypatch.delenv("SWITCHBOARD_TEST_BACKEND", raising=False)
    monkeypatch.setattr(backends, "docker_answers", lambda: False)
    assert backends.chosen_backend() == "embedded"
    monkeypatch.setattr(backends, "docker_answers", lambda: True)
    assert backends.chosen_backend() == "docker"
    monkeypatch.setenv("SWITCHBOARD_TEST_BACKEND", "embedded")
    assert backends.chosen_backend() == "embedded"


def test_a_misspelt_choice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """`SWITCHBOARD_TEST_BACKEND=dokcer` is an error, not a silent fallback."""
    monkeypatch.setenv("SWITCHBOARD_TEST_BACKEND", "dokcer")
    with pytest.raises(ValueError, match="auto, embedded or docker"):
        backends.chosen_backend()


def test_forcing_docker_without_an_engine_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Forced containers with no engine stop the suite with the reason and the way out."""
    monkeypatch.setenv("SWITCHBOARD_TEST_BACKEND", "docker")
    monkeypatch.setattr(backends, "docker_answers", lambda: False)
    with (
        pytest.raises(RuntimeError, match="no Docker engine answers"),
        backends.test_backends(tmp_path),
    ):
        pass
