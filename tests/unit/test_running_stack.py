"""How command-line tools find the NATS of a running `make run` (its data folder)."""

from pathlib import Path

import pytest

from shared.devstack.embedded import EmbeddedNats
from shared.devstack.running import DEFAULT_NATS_URL, nats_url

pytestmark = pytest.mark.unit


def test_the_cli_finds_the_port_make_run_gave_its_nats(tmp_path: Path) -> None:
    """A `make run` on NATS_PORT=24090 is found from the config file its NATS was started with."""
    store = tmp_path / "nats" / "jetstream"
    store.parent.mkdir(parents=True)
    (store.parent / "nats.conf").write_text(EmbeddedNats(store, port=24090).config())
    assert nats_url(None, tmp_path) == "nats://127.0.0.1:24090"


def test_nats_url_when_given_wins_and_nothing_running_means_the_default(tmp_path: Path) -> None:
    """NATS_URL is taken as given; an empty data folder leaves NATS's default address."""
    assert nats_url("nats://elsewhere:4333", tmp_path) == "nats://elsewhere:4333"
    assert nats_url(None, tmp_path) == DEFAULT_NATS_URL
