"""docker-compose.yml and deploy/compose.override.yml, checked without a Docker engine: the
Compose schema, commands, health URLs against the services' real routes and ports, the settings
the services really read, the NATS cluster, scaling and the observability profile."""

import importlib
import importlib.util
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic_settings import BaseSettings

from shared.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
OVERRIDE: dict[str, Any] = yaml.safe_load((ROOT / "deploy/compose.override.yml").read_text())
SCHEMA = json.loads((ROOT / "deploy/schema/compose-spec.json").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
APP_SERVICES = ["gateway", "dialog", "schedule", "telemetry", "media"]
SETTINGS = {
    "gateway": "services.gateway.config:GatewaySettings",
    "dialog": "services.dialog.config:DialogSettings",
    "schedule": "services.schedule.config:ScheduleSettings",
    "telemetry": "services.telemetry.config:TelemetrySettings",
    "media": "services.media.config:MediaSettings",
}
NATS_NODES = sorted(name for name in SERVICES if re.fullmatch(r"nats-\d+", name))
HEALTH_URL = re.compile(r"http://127\.0\.0\.1:(\d+)(/[^'\" ]*)")


def settings_class(service: str) -> type[BaseSettings]:
    """The pydantic-settings class of an application service."""
    module, _, name = SETTINGS[service].partition(":")
    found: type[BaseSettings] = getattr(importlib.import_module(module), name)
    return found


def env_names(cls: type[BaseSettings]) -> dict[str, bool]:
    """Every environment variable `cls` reads (env_prefix + field name, or the alias), and
    whether it is required (no default)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    return {
        (field.alias or prefix + name).upper(): field.is_required()
        for name, field in cls.model_fields.items()
    }


def environment(service: str) -> dict[str, str]:
    """The environment compose gives `service`, with ${VAR:?...} and ${VAR:-default} resolved
    to a stand-in value or the default."""
    env: dict[str, str] = SERVICES[service].get("environment", {})
    return {key: _interpolate(str(value)) for key, value in env.items()}


def _interpolate(value: str) -> str:
    value = re.sub(r"\$\{(\w+):\?[^}]*\}", lambda m: f"given-{m[1].lower()}", value)
    return re.sub(r"\$\{\w+:-([^}]*)\}", lambda m: m[1], value)


@pytest.fixture
def compose_env(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    """The process environment of one compose service (the test's `name` parameter)."""
    name: str = request.node.callspec.params["name"]
    for key in list(os.environ):
        if key.startswith((*[f"{s.upper()}_" for s in APP_SERVICES], "NATS_", "DATABASE_")):
            monkeypatch.delenv(key)
    for key, value in environment(name).items():
        monkeypatch.setenv(key, value)
    yield name


@pytest.mark.parametrize("path", ["docker-compose.yml", "deploy/compose.override.yml"])
def test_compose_files_follow_the_compose_spec(path: str) -> None:
    """Both files validate against the official Compose JSON schema (draft 2019-09, as its
    `$schema` says; named here because jsonschema does not resolve that URI's `http://...#`
    spelling and would guess a draft)."""
    assert SCHEMA["$schema"].startswith("http://json-schema.org/draft/2019-09/schema")
    validator = jsonschema.Draft201909Validator(SCHEMA)
    validator.validate(yaml.safe_load((ROOT / path).read_text()))


@pytest.mark.parametrize("name", [*APP_SERVICES, "migrate"])
def test_every_command_is_an_importable_module(name: str) -> None:
    """Each `python -m <module>` names a package with a __main__ or a module that runs as a
    script; the migrate job's subcommand is one the CLI has."""
    command: list[str] = SERVICES[name]["command"]
    assert command[:2] == ["python", "-m"]
    module = command[2]
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    if spec.submodule_search_locations is None:
        assert 'if __name__ == "__main__":' in Path(spec.origin).read_text()
    else:
        assert importlib.util.find_spec(f"{module}.__main__") is not None
    if len(command) > 3:  # a subcommand of the CLI
        cli = importlib.import_module(module).app
        assert command[3] in {c.name or c.callback.__name__ for c in cli.registered_commands}


def _app_routes(name: str) -> set[str]:
    """The HTTP routes the service's ASGI app really serves (built, not started): FastStream
    keeps (path, handler) pairs, FastAPI route objects (included routers have no path)."""
    app = importlib.import_module(f"services.{name}.main").create_app()
    return {
        route[0] if isinstance(route, tuple) else getattr(route, "path", "") for route in app.routes
    }


@pytest.mark.parametrize("name", APP_SERVICES)
def test_health_checks_probe_a_real_ready_route_on_the_service_port(
    name: str, compose_env: str
) -> None:
    """The health check asks /ready, a route the service serves, on the port its settings take
    from the compose environment; it waits for the cluster, Postgres and the migrations."""
    service: dict[str, Any] = SERVICES[name]
    match = HEALTH_URL.search(" ".join(service["healthcheck"]["test"]))
    assert match, "the health check names no http://127.0.0.1:<port>/<path> URL"
    port, path = int(match[1]), match[2]
    assert path == "/ready"
    assert path in _app_routes(name)
    assert port == settings_class(name)().port  # type: ignore[attr-defined]
    waits = {dep: cond["condition"] for dep, cond in service["depends_on"].items()}
    assert waits == {
        **{node: "service_healthy" for node in NATS_NODES},
        "postgres": "service_healthy",
        "migrate": "service_completed_successfully",
    }


@pytest.mark.parametrize("name", [*APP_SERVICES, "migrate"])
def test_compose_sets_only_settings_the_service_reads(name: str, compose_env: str) -> None:
    """Every variable compose sets is a field of CommonSettings or of the service's own settings
    (prefix + name), every required field is set, and the values validate."""
    classes: list[type[BaseSettings]] = [CommonSettings]
    if name in SETTINGS:
        classes.append(settings_class(name))
    read: dict[str, bool] = {}
    for cls in classes:
        read |= env_names(cls)
        cls()  # raises when compose gives a value the service refuses
    given = set(environment(name))
    assert given <= set(read), f"{name} never reads {sorted(given - set(read))}"
    required = {var for var, needed in read.items() if needed}
    assert required <= given, f"{name} needs {sorted(required - given)}"


def test_secrets_have_no_default_and_must_be_given() -> None:
    """POSTGRES_PASSWORD is only ever ${POSTGRES_PASSWORD:?...}: compose refuses to start
    without it, and no default password exists."""
    text = (ROOT / "docker-compose.yml").read_text()
    uses = re.findall(r"\$\{POSTGRES_PASSWORD([^}]*)\}", text)
    assert len(uses) >= 2 and all(use.startswith(":?") for use in uses)
    assert "POSTGRES_PASSWORD" not in (ROOT / "deploy/compose.override.yml").read_text()


def test_connection_urls_name_the_compose_backends() -> None:
    """NATS_URL lists every cluster node and streams keep a replica on each; DATABASE_URL
    names the postgres service, its user and its database."""
    env, pg = environment("dialog"), SERVICES["postgres"]["environment"]
    assert env["NATS_URL"].split(",") == [f"nats://{node}:4222" for node in NATS_NODES]
    assert int(env["NATS_STREAM_REPLICAS"]) == len(NATS_NODES) == 3
    user, database = pg["POSTGRES_USER"], pg["POSTGRES_DB"]
    assert re.fullmatch(rf"postgresql://{user}:[^@]+@postgres:5432/{database}", env["DATABASE_URL"])
    assert all(environment(name)["DATABASE_URL"] == env["DATABASE_URL"] for name in APP_SERVICES)


def test_nats_is_a_three_node_cluster_each_routing_to_the_other_two() -> None:
    """Three nodes, each named after its service, routing to the two others on the cluster
    port, each with its own volume as the JetStream store, health-checked with JetStream on."""
    assert NATS_NODES == ["nats-1", "nats-2", "nats-3"]
    stores = []
    for node in NATS_NODES:
        service, command = SERVICES[node], SERVICES[node]["command"]
        assert command[command.index("--name") + 1] == node
        routes = set(command[command.index("--routes") + 1].split(","))
        assert routes == {f"nats://{other}:6222" for other in NATS_NODES if other != node}
        data = [v for v in service["volumes"] if v.endswith(":/data")]
        assert len(data) == 1 and data[0].split(":")[0] in COMPOSE["volumes"]
        stores.append(data[0])
        probe = " ".join(service["healthcheck"]["test"])
        assert "127.0.0.1:8222/healthz?js-enabled-only=true" in probe
    assert len(set(stores)) == len(NATS_NODES)


@pytest.mark.parametrize("name", [*APP_SERVICES, "migrate"])
def test_scalable_services_have_no_fixed_name_or_host_port(name: str) -> None:
    """`--scale` needs services without container_name or published ports (the proxy and the
    backends publish; gateways are reached only through the proxy)."""
    service = SERVICES[name]
    assert "container_name" not in service and "ports" not in service
    assert "healthcheck" in service or service["restart"] == "no"


def test_every_image_is_pinned_to_an_exact_version() -> None:
    """No `latest` and no floating major tag: each image names an exact x.y[.z] version."""
    for name, service in SERVICES.items():
        image: str = service["image"]
        if image.startswith("switchboard:"):
            assert "build" in service, f"{name} uses the local image without building it"
            continue
        tag = image.rpartition(":")[2]
        assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?(-[a-z0-9]+)?", tag), f"{name}: {image}"


def test_observability_is_an_opt_in_profile() -> None:
    """Prometheus and Grafana start only under `--profile observability`, the NATS CLI only
    when run, everything else always; they use the files in deploy/prometheus and
    deploy/grafana."""
    profiles = {name: s["profiles"] for name, s in SERVICES.items() if "profiles" in s}
    assert profiles == {
        "prometheus": ["observability"],
        "grafana": ["observability"],
        "nats-box": ["tools"],
    }
    assert SERVICES["nats-box"]["environment"]["NATS_URL"] == environment("dialog")["NATS_URL"]
    profiled = {"prometheus", "grafana"}
    mounts = [v.split(":")[0] for name in profiled for v in SERVICES[name]["volumes"]]
    assert "./deploy/prometheus/prometheus.yml" in mounts
    assert {"./deploy/grafana/provisioning", "./deploy/grafana/dashboards"} <= set(mounts)


def test_files_mounted_into_containers_exist() -> None:
    """Every file or directory compose mounts from the repository exists (the observability
    ones once deploy/prometheus and deploy/grafana are there)."""
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("./"):
                continue
            owner = ROOT / "/".join(source[2:].split("/")[:2])
            if "profiles" in service and not owner.exists():
                continue  # deploy/prometheus, deploy/grafana: added by the observability work
            assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"


def test_development_override_only_changes_existing_services() -> None:
    """The override names services of the main file, mounts the source where the image runs
    it, publishes on loopback only, and sets only settings the services read."""
    workdir = next(
        line.split()[1]
        for line in reversed((ROOT / "deploy/Dockerfile").read_text().splitlines())
        if line.startswith("WORKDIR")
    )
    for name, service in OVERRIDE["services"].items():
        assert name in SERVICES
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            assert (ROOT / source).is_dir() and target == f"{workdir}/{Path(source).name}"
        assert all(port.startswith("127.0.0.1:") for port in service.get("ports", []))
        read = set(env_names(CommonSettings))
        assert set(service.get("environment", {})) <= read
