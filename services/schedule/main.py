"""Wiring: broker, database, health routes. Its subscribers arrive with the schedule issue."""

from faststream.asgi import AsgiFastStream

from shared.service import basic_service_app


def create_app() -> AsgiFastStream:
    """The schedule service as an ASGI app: connected to NATS and Postgres, reporting readiness."""
    return basic_service_app("schedule")
