"""docker-compose.yml, checked without a Docker engine: schema, commands, health URLs, settings,
the NATS cluster, the proxy and the image."""

import asyncio
import importlib
import importlib.util
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from pydantic_settings import BaseSettings

from shared.settings import CommonSettings
from shared.testing import images

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
OVERRIDE = yaml.safe_load((ROOT / "deploy/compose.override.yml").read_text())
SCHEMA = __import__("json").loads((ROOT / "deploy/schema/compose-spec.json").read_text())
APP_SERVICES = ["gateway", "dialog", "schedule", "telemetry", "media"]
NATS_NODES = ["nats-1", "nats-2", "nats-3"]
SETTINGS = {
    "gateway": ("services.gateway.config", "GatewaySettings"),
    "dialog": ("services.dialog.config", "DialogSettings"),
    "schedule": ("services.schedule.config", "ScheduleSettings"),
    "telemetry": ("services.telemetry.config", "TelemetrySettings"),
    "media": ("services.media.config", "MediaSettings"),
}


def _settings(name: str) -> type[BaseSettings]:
    module, cls = SETTINGS[name]
    found: type[BaseSettings] = getattr(importlib.import_module(module), cls)
    return found


def _env_names(settings: type[BaseSettings]) -> set[str]:
    prefix = str(settings.model_config.get("env_prefix", ""))
    return {f"{prefix}{field}".upper() for field in settings.model_fields}


@pytest.mark.parametrize("document", [COMPOSE, OVERRIDE], ids=["compose", "override"])
def test_compose_files_follow_the_compose_spec(document: dict[str, Any]) -> None:
    """Both files validate against the official Compose JSON schema (vendored)."""
    jsonschema.validate(document, SCHEMA)


def test_the_override_only_touches_services_the_compose_file_has() -> None:
    """A typo in the development override would start a stray container, not change one."""
    assert set(OVERRIDE["services"]) <= set(COMPOSE["services"])


@pytest.mark.parametrize("name", [*APP_SERVICES, "migrate"])
def test_every_command_is_an_importable_module(name: str) -> None:
    """Each `python -m <module>` in the file names a module that exists."""
    command: list[str] = COMPOSE["services"][name]["command"]
    assert command[:2] == ["python", "-m"]
    assert importlib.util.find_spec(command[2]) is not None


def _status(name: str, path: str) -> int:
    """What the service's own ASGI app answers to GET `path` (not started: no NATS needed)."""
    app = importlib.import_module(f"services.{name}.main").create_app()

    async def get() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            return (await client.get(path)).status_code

    return asyncio.run(get())


@pytest.mark.parametrize("name", APP_SERVICES)
def test_health_checks_probe_a_route_on_the_port_the_service_listens_on(name: str) -> None:
    """The health check asks /ready on the port compose tells the service to use, the service's
    app serves /ready, and the service waits for every NATS node, Postgres and the migration."""
    service: dict[str, Any] = COMPOSE["services"][name]
    port = service["environment"][f"{name.upper()}_PORT"]
    assert f"127.0.0.1:{port}/ready" in " ".join(service["healthcheck"]["test"])
    assert _status(name, "/ready") in {200, 503}  # a route (not 404): not ready, not started
    assert _status(name, "/no-such-route") == 404
    for dependency in [*NATS_NODES, "postgres"]:
        assert service["depends_on"][dependency]["condition"] == "service_healthy"
    assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_compose_sets_only_settings_the_service_reads(name: str) -> None:
    """Every variable compose gives a service is one of its settings (a misspelt one would be
    ignored silently), and the common ones point at the cluster and the database."""
    env = COMPOSE["services"][name]["environment"]
    known = _env_names(_settings(name)) | _env_names(CommonSettings)
    assert set(env) <= known, set(env) - known
    assert env["NATS_URL"].count("nats://") == 3 and env["NATS_STREAM_REPLICAS"] == "3"
    assert re.search(r"\$\{POSTGRES_PASSWORD:\?", env["DATABASE_URL"])


def test_scalable_services_have_no_fixed_host_ports_or_names() -> None:
    """`--scale gateway=2 --scale dialog=3` needs replicas that do not claim the same host port
    or container name; clients reach gateways only through the proxy."""
    for name in APP_SERVICES:
        service = COMPOSE["services"][name]
        assert "ports" not in service and "container_name" not in service, name


def test_the_nats_cluster_has_three_nodes_routed_to_each_other_on_own_volumes() -> None:
    """Each node runs JetStream, names itself, routes to the two others, keeps its own volume."""
    volumes = set()
    for node in NATS_NODES:
        service = COMPOSE["services"][node]
        args = " ".join(service["command"])
        assert service["image"] == images.NATS
        assert "--jetstream" in args and f"--name={node}" in args
        routes = re.search(r"--routes=(\S+)", args)
        assert routes is not None
        others = {f"nats://{n}:6222" for n in NATS_NODES if n != node}
        assert set(routes.group(1).split(",")) == others
        volumes.add(service["volumes"][0].split(":")[0])
    assert len(volumes) == 3 and volumes <= set(COMPOSE["volumes"])


def test_compose_runs_the_images_the_tests_run() -> None:
    """Postgres and NATS are the exact versions the testcontainers backends use."""
    assert COMPOSE["services"]["postgres"]["image"] == images.POSTGRES
    assert all(COMPOSE["services"][n]["image"] == images.NATS for n in NATS_NODES)


def test_the_proxy_forwards_every_gateway_port_to_every_replica() -> None:
    """Caddy publishes the gateway's HTTP/WebSocket port and BESSER's, and proxies each to the
    gateway replicas found by DNS (reverse_proxy passes WebSocket upgrades through)."""
    proxy = COMPOSE["services"]["proxy"]
    published = {p.split(":")[-1] for p in proxy["ports"]}
    gateway_env = COMPOSE["services"]["gateway"]["environment"]
    ports = {gateway_env["GATEWAY_PORT"], gateway_env["GATEWAY_BESSER_PORT"]}
    assert ports <= published
    caddyfile = (ROOT / "deploy/proxy/Caddyfile").read_text()
    for port in ports:
        assert re.search(rf"dynamic a gateway {port}\b", caddyfile), port
    assert "./deploy/proxy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert "2020/healthz" in " ".join(proxy["healthcheck"]["test"])
    assert re.search(r"^:2020 \{\n\trespond /healthz 200", caddyfile, re.MULTILINE)


def test_the_image_runs_as_a_user_without_build_tools() -> None:
    """The final stage is a pinned slim base, runs as a non-root user and installs nothing."""
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    final = dockerfile.split("\nFROM ")[-1]
    assert re.match(r"python:\d+\.\d+\.\d+-slim", final)
    assert re.search(r"^USER (?!root)\S+", final, re.MULTILINE)
    assert not re.search(r"apt-get|gcc|build-essential|pip install", final)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".data"} <= set(ignored)
