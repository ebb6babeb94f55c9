"""Admin HTTP API for the fleet overview: every robot of a project with its presence, its newest
value of each metric, and the alerts its metrics raise against thresholds the operator set.

The thresholds are kept in the project's settings (`alerts`), so every gateway replica and the
console read the same ones; the overview is computed on each request from the telemetry
service's robots and latest values, so it is as live as the samples.
"""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, TypeAdapter, model_validator

from shared import subjects
from shared.contracts import (
    GetLatestTelemetry,
    GetRobots,
    LatestTelemetry,
    RobotList,
)
from shared.contracts.telemetry import MetricName
from shared.identity import AdminToken, ProjectStore, TokenStore

from .admin_auth import admin_scope
from .bus.bridge import Bridge, BridgeError
from .edge.problems import Problem

SETTING = "alerts"
MAX_RULES = 100
ROBOTS: TypeAdapter[RobotList] = TypeAdapter(RobotList)
LATEST: TypeAdapter[LatestTelemetry] = TypeAdapter(LatestTelemetry)


class AlertRule(BaseModel):
    """Alert when `metric` goes above `above` or below `below` (at least one of them)."""

    metric: MetricName = Field(description="Metric name, e.g. battery")
    above: float | None = Field(None, description="Alert when the value is greater than this")
    below: float | None = Field(None, description="Alert when the value is less than this")

    @model_validator(mode="after")
    def _one_bound(self) -> "AlertRule":
        if self.above is None and self.below is None:
            raise ValueError(f"{self.metric}: give a value to stay above or below")
        return self


class AlertRules(BaseModel):
    """The project's alert thresholds."""

    rules: list[AlertRule] = Field(default_factory=list, max_length=MAX_RULES)


class Alert(BaseModel):
    """A metric past its threshold."""

    metric: str
    value: float
    above: float | None = Field(description="The threshold it went over, if that one")
    below: float | None = Field(description="The threshold it went under, if that one")


class FleetRobot(BaseModel):
    """One robot in the overview."""

    robot_id: str
    online: bool
    connected: bool
    last_seen: datetime | None
    protocol: str | None
    sampled_at: datetime | None = Field(description="When its newest sample arrived")
    metrics: dict[str, float] = Field(description="Newest value of each metric")
    alerts: list[Alert]


class Fleet(BaseModel):
    """Every robot of the project, alerting ones first, then by id."""

    robots: list[FleetRobot]
    online: int
    alerting: int
    rules: list[AlertRule]


def alerts_of(metrics: dict[str, float], rules: list[AlertRule]) -> list[Alert]:
    """The alerts `metrics` raise (a metric the robot never sent raises none)."""
    found = []
    for rule in rules:
        value = metrics.get(rule.metric)
        if value is None:
            continue
        if rule.above is not None and value > rule.above:
            found.append(Alert(metric=rule.metric, value=value, above=rule.above, below=None))
        elif rule.below is not None and value < rule.below:
            found.append(Alert(metric=rule.metric, value=value, above=None, below=rule.below))
    return found


def stored_rules(settings: dict[str, Any]) -> list[AlertRule]:
    """The rules kept in a project's settings (none when never set)."""
    return AlertRules.model_validate(settings.get(SETTING) or {}).rules


def admin_fleet_routes(
    router: APIRouter, projects: ProjectStore, tokens: TokenStore, bridge: Bridge
) -> None:
    """Add GET /fleet, GET and PUT /alerts to admin.py's router (under
    /admin/projects/{project}: the audit log names their full route)."""
    Scope = Annotated[tuple[UUID, AdminToken], Depends(admin_scope(projects, tokens))]

    async def rules_of(key: UUID) -> list[AlertRule]:
        project = await projects.get(key)
        return stored_rules(project.settings) if project is not None else []

    @router.get("/alerts", response_model=AlertRules)
    async def read_alerts(scoped: Scope) -> AlertRules:
        """The project's alert thresholds."""
        return AlertRules(rules=await rules_of(scoped[0]))

    @router.put("/alerts", response_model=AlertRules)
    async def change_alerts(body: AlertRules, scoped: Scope) -> AlertRules:
        """Replace the project's alert thresholds (an empty list: no alerts)."""
        await projects.set_setting(scoped[0], SETTING, body.model_dump(mode="json"))
        return body

    @router.get("/fleet", response_model=Fleet)
    async def fleet(scoped: Scope) -> Fleet:
        """Every robot with presence, newest metrics and alerts (alerting robots first)."""
        key = scoped[0]
        try:
            robots = await bridge.ask(
                subjects.telemetry_query("robots", key), GetRobots(project_key=key), ROBOTS
            )
            latest = await bridge.ask(
                subjects.telemetry_query("latest", key), GetLatestTelemetry(project_key=key), LATEST
            )
        except BridgeError as err:
            raise Problem(503, "the telemetry service did not answer; try again") from err
        rules = await rules_of(key)
        samples = {s.robot_id: s for s in latest.samples}
        listed = []
        for robot in robots.robots:
            sample = samples.get(robot.robot_id)
            metrics = sample.metrics if sample is not None else {}
            listed.append(
                FleetRobot(
                    **robot.model_dump(),
                    sampled_at=sample.received_at if sample is not None else None,
                    metrics=metrics,
                    alerts=alerts_of(metrics, rules),
                )
            )
        listed.sort(key=lambda r: (not r.alerts, r.robot_id))
        return Fleet(
            robots=listed,
            online=sum(r.online for r in listed),
            alerting=sum(bool(r.alerts) for r in listed),
            rules=rules,
        )
