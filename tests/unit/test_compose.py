"""docker-compose.yml, checked without a Docker engine: schema, commands, health URLs, settings."""

import importlib.util
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SCHEMA = __import__("json").loads((ROOT / "deploy/schema/compose-spec.json").read_text())
APP_SERVICES = ["gateway", "dialog", "schedule", "telemetry", "media"]


def test_compose_file_follows_the_compose_spec() -> None:
    """The file validates against the official Compose JSON schema."""
    jsonschema.validate(COMPOSE, SCHEMA)


@pytest.mark.parametrize("name", [*APP_SERVICES, "migrate"])
def test_every_command_is_an_importable_module(name: str) -> None:
    """Each `python -m <module>` in the file names a module that exists."""
    command: list[str] = COMPOSE["services"][name]["command"]
    assert command[:2] == ["python", "-m"]
    assert importlib.util.find_spec(command[2]) is not None


@pytest.mark.parametrize("name", APP_SERVICES)
def test_health_checks_probe_the_port_the_service_listens_on(name: str) -> None:
    """The health check asks /ready on the port compose tells the service to use."""
    service: dict[str, Any] = COMPOSE["services"][name]
    port = service["environment"][f"{name.upper()}_PORT"]
    assert f"127.0.0.1:{port}/ready" in " ".join(service["healthcheck"]["test"])
    assert service["depends_on"]["nats"]["condition"] == "service_healthy"
    assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_services_get_every_setting_they_need_and_secrets_are_required() -> None:
    """NATS_URL, DATABASE_URL and BIND_HOST are set; the database password must be given."""
    env = COMPOSE["services"]["dialog"]["environment"]
    assert {"NATS_URL", "DATABASE_URL", "BIND_HOST"} <= set(env)
    assert re.search(r"\$\{POSTGRES_PASSWORD:\?", env["DATABASE_URL"])
