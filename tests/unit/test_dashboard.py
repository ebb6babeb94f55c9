"""The Grafana dashboard and the Prometheus config agree with what the services export."""

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import services.dialog.metrics
import services.gateway.edge.metrics
import shared.observability.metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "switchboard.json"
PORTS = {"gateway": 8003, "dialog": 8101, "schedule": 8102, "telemetry": 8103, "media": 8104}
PROMETHEUS_OWN = {"up"}  # series Prometheus itself records per target
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported() -> set[str]:
    """Every series name the services' metric modules put on /metrics."""
    assert (
        services.dialog.metrics and services.gateway.edge.metrics and shared.observability.metrics
    )
    names: set[str] = set()
    for family in REGISTRY.collect():
        if family.name.startswith("switchboard_"):
            names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


def exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_every_dashboard_query_uses_exported_metrics() -> None:
    """Each panel query names only metrics the services export (or Prometheus' own `up`)."""
    known = exported()
    assert {"switchboard_turn_seconds_bucket", "switchboard_connections"} <= known
    for expr in exprs():
        names = set(re.findall(r"\b(switchboard_[a-z_]+|up)\b", expr))
        assert names, f"no metric in {expr!r}"
        assert names <= known | PROMETHEUS_OWN, f"{expr!r} names {names - known}"


def test_the_dashboard_shows_every_metric() -> None:
    """Every exported metric family has a panel."""
    shown = " ".join(exprs())
    families = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in exported()}
    assert all(family in shown for family in families), families


def test_prometheus_scrapes_every_service_replica() -> None:
    """One job per service, resolving every replica (DNS A records) on its HTTP port."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job["dns_sd_configs"][0] for job in config["scrape_configs"]}
    assert {name: (sd["names"], sd["type"], sd["port"]) for name, sd in jobs.items()} == {
        name: ([name], "A", port) for name, port in PORTS.items()
    }


def test_grafana_provisions_the_datasource_the_dashboard_names() -> None:
    """The provisioned datasource uid is the one every panel queries."""
    provisioning = DEPLOY / "grafana" / "provisioning"
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert {panel["datasource"]["uid"] for panel in panels} == {uid}
    providers = yaml.safe_load((provisioning / "dashboards" / "switchboard.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
