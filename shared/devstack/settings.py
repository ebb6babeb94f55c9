"""What `make run` starts: its settings, and the replicas they make (names, ports, env)."""

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("dialog", "schedule", "telemetry", "media")  # started in this order, gateways last
REPLICA_PORT_STEP = 10  # a service's replicas answer /health on port, port+10, port+20, ...
MAX_REPLICAS = 9


class StackSettings(BaseSettings):
    """Settings of the local stack (environment variables without prefix)."""

    model_config = SettingsConfigDict(extra="ignore")

    data_dir: Path = Field(Path(".data"), alias="SWITCHBOARD_DATA")
    nats_url: str | None = None
    database_url: str | None = None
    nats_port: int = Field(4222, description="Client port of NATS (of node 1 of a cluster)")
    nats_nodes: int = Field(
        1,
        ge=1,
        le=5,
        alias="NATS_NODES",
        description="Embedded NATS nodes: 3 makes a JetStream cluster (client ports NATS_PORT, "
        "+1, +2) whose streams keep 3 replicas",
    )
    gateway_port: int = 8003
    dialog_port: int = 8101
    schedule_port: int = 8102
    telemetry_port: int = 8103
    media_port: int = 8104
    gateway_besser_port: int = 8765
    gateways: int = Field(
        1,
        ge=1,
        le=MAX_REPLICAS,
        alias="GATEWAYS",
        description="Gateway replicas (HTTP on GATEWAY_PORT, +1, ...; BESSER on "
        "GATEWAY_BESSER_PORT, +1, ...)",
    )
    dialog: int = Field(1, ge=1, le=MAX_REPLICAS, alias="DIALOG", description="Dialog replicas")
    schedule: int = Field(
        1, ge=1, le=MAX_REPLICAS, alias="SCHEDULE", description="Schedule replicas"
    )
    telemetry: int = Field(
        1, ge=1, le=MAX_REPLICAS, alias="TELEMETRY", description="Telemetry replicas"
    )
    media: int = Field(1, ge=1, le=MAX_REPLICAS, alias="MEDIA", description="Media replicas")


@dataclass(frozen=True)
class Replica:
    """One process of the stack: `dialog-2` runs `python -m services.dialog` on its own port."""

    name: str
    module: str
    port: int
    env: dict[str, str] = field(default_factory=dict)

    @property
    def ports(self) -> dict[str, int]:
        """Every port it listens on, by the setting that moves it."""
        found = {f"{self.module.upper()}_PORT": self.port}
        if "GATEWAY_BESSER_PORT" in self.env:
            found["GATEWAY_BESSER_PORT"] = int(self.env["GATEWAY_BESSER_PORT"])
        return found


def _names(module: str, count: int) -> list[str]:
    """`dialog` alone; `dialog-1`, `dialog-2`, ... when there are several."""
    return [module] if count == 1 else [f"{module}-{n + 1}" for n in range(count)]


def replica_plan(settings: StackSettings) -> list[Replica]:
    """Every replica `make run` starts: the services' (health ports spaced by
    REPLICA_PORT_STEP), then the gateways' (consecutive HTTP and BESSER ports)."""
    plan: list[Replica] = []
    for module in SERVICES:
        base: int = getattr(settings, f"{module}_port")
        for n, name in enumerate(_names(module, getattr(settings, module))):
            port = base + n * REPLICA_PORT_STEP
            plan.append(Replica(name, module, port, {f"{module.upper()}_PORT": str(port)}))
    for n, name in enumerate(_names("gateway", settings.gateways)):
        port, besser = settings.gateway_port + n, settings.gateway_besser_port + n
        env = {"GATEWAY_PORT": str(port), "GATEWAY_BESSER_PORT": str(besser)}
        plan.append(Replica(name, "gateway", port, env))
    return plan
