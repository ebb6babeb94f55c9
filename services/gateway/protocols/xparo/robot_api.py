"""REST routes for robots, authenticated by the REST token the server gave them (REST_API_TOKEN).

`Authorization: Bearer <token>` (the typed API document) or `Token <token>` (XPARO's robot
client). Errors use XPARO's `{"error": {"message": ...}}` shape.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header
from fastapi.responses import JSONResponse

from shared import subjects
from shared.contracts import TelemetrySampled, utcnow
from shared.identity import RobotToken, TokenStore

from ...bus.bridge import Bridge, BridgeError
from .typed import TypedFrameError, sample_metrics


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message}}, status_code=status)


def robot_router(tokens: TokenStore, bridge: Bridge) -> APIRouter:
    """The /api routes robots call with their REST token."""
    router = APIRouter(prefix="/api", tags=["robot REST"])

    async def robot(authorization: str | None) -> RobotToken | None:
        scheme, _, secret = (authorization or "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or not secret.strip():
            return None
        return await tokens.robot(secret.strip())

    @router.post("/telemetry/", status_code=201)
    async def telemetry(
        body: Annotated[Any, Body(description="Metrics, as in the typed API's telemetry data")],
        authorization: Annotated[str | None, Header()] = None,
    ) -> Any:
        """Accept one telemetry sample from the robot that owns the token."""
        found = await robot(authorization)
        if found is None:
            return _error(401, "send Authorization: Bearer <REST_API_TOKEN> (a current one)")
        if not isinstance(body, dict):
            return _error(400, 'the body is a JSON object of metrics, e.g. {"cpu_usage": 42}')
        try:
            metrics = sample_metrics(body)
        except TypedFrameError as err:
            return _error(400, str(err))
        sample = TelemetrySampled.first(
            project_key=found.project_key,
            robot_id=found.robot_id,
            received_at=utcnow(),
            metrics=metrics,
        )
        subject = subjects.telemetry_sample(project=found.project_key, robot=found.robot_id)
        try:
            await bridge.publish(sample, subject, subjects.TELEMETRY_STREAM)
        except BridgeError as err:
            return _error(503, str(err))
        return {"status": "accepted", "robot_id": found.robot_id, "sample_id": str(sample.event_id)}

    return router
