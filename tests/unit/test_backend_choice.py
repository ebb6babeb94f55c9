"""Which NATS and Postgres the integration suite runs on (SWITCHBOARD_TEST_BACKEND)."""

import pytest

from tests.support.backends import BackendUnavailable, chosen_backend


def engine() -> bool:
    return True


def no_engine() -> bool:
    return False


def never_asked() -> bool:
    raise AssertionError("Docker was asked although the embedded servers were forced")


@pytest.mark.parametrize("value", [None, "", "auto", " AUTO "])
def test_auto_uses_docker_when_an_engine_answers_and_embedded_otherwise(value: str | None) -> None:
    """Unset, empty or `auto` (any case): testcontainers with an engine, embedded without."""
    environ = {} if value is None else {"SWITCHBOARD_TEST_BACKEND": value}
    assert chosen_backend(environ, ping=engine) == "docker"
    assert chosen_backend(environ, ping=no_engine) == "embedded"


def test_embedded_is_used_without_asking_docker() -> None:
    """`embedded` never pings Docker, even where an engine runs."""
    assert chosen_backend({"SWITCHBOARD_TEST_BACKEND": "embedded"}, ping=never_asked) == "embedded"


def test_docker_without_an_engine_fails_saying_what_to_do() -> None:
    """`docker` with no engine answering stops the suite with a message naming the fix."""
    with pytest.raises(BackendUnavailable, match=r"no Docker engine answers.*=embedded"):
        chosen_backend({"SWITCHBOARD_TEST_BACKEND": "docker"}, ping=no_engine)
    assert chosen_backend({"SWITCHBOARD_TEST_BACKEND": "docker"}, ping=engine) == "docker"


def test_an_unknown_value_is_refused() -> None:
    """A typo is an error listing the accepted values, not a silent fallback."""
    with pytest.raises(ValueError, match=r"auto .*embedded or docker"):
        chosen_backend({"SWITCHBOARD_TEST_BACKEND": "dokcer"}, ping=engine)
