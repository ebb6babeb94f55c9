"""Refusals the framework makes come out in the shape of the protocol whose route was asked."""

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.gateway.config import GatewaySettings
from services.gateway.edge import problems
from services.gateway.protocols.shapes import ShapedRefusals, Shapes

pytestmark = pytest.mark.unit
ran: list[str] = []
CAP = 10_000


def app() -> FastAPI:
    """Routes under each protocol's prefix, wired like the gateway (problems, then shapes)."""
    api = FastAPI()
    problems.install(api)

    @api.post("/chatbot_api/{secret}/{project}/")
    async def rest_twin(request: Request) -> dict[str, int]:
        ran.append("rest_twin")
        return {"read": len(await request.body())}

    @api.post("/api/telemetry/")
    async def telemetry(sample: dict[str, int]) -> dict[str, int]:
        return sample

    @api.get("/sandbox/chat")
    async def chat() -> None:
        raise RuntimeError("a bug")

    @api.get("/ready")
    async def ready() -> JSONResponse:
        return JSONResponse({"status": "not ready"}, 503)

    @api.get("/api/busy")
    async def busy() -> JSONResponse:  # as Starlette's own refusals look
        return JSONResponse({"detail": "slow down"}, 429, headers={"Retry-After": "3"})

    api.add_middleware(ShapedRefusals, shapes=Shapes(GatewaySettings(max_frame_bytes=CAP)))
    return api


def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_fastapi_refusals_on_xparo_routes_are_xparo_errors() -> None:
    """Invalid JSON and a 5,000-digit number on /api/telemetry/, and the router's 404 under
    /api/, answer XPARO's {"error": {"message"}} with the framework's status."""
    async with client() as http:
        invalid = await http.post("/api/telemetry/", content=b"{", headers=JSON)
        digits = await http.post("/api/telemetry/", content=DIGITS, headers=JSON)
        missing = await http.get("/api/nothing")
    assert (invalid.status_code, digits.status_code, missing.status_code) == (422, 400, 404)
    for answer in (invalid, digits, missing):
        assert set(answer.json()) == {"error"} and answer.json()["error"]["message"]


async def test_an_unhandled_error_on_rsvp_is_rsvps_failure() -> None:
    """A route that raises answers 500 in RSVP's shape (status -1), not a plain-text page."""
    async with client() as http:
        answer = await http.get("/sandbox/chat")
    assert answer.status_code == 500
    assert answer.json()["status"] == -1 and answer.json()["message"]


async def test_bodies_over_the_frame_limit_are_refused_before_the_route_runs() -> None:
    """A body over GATEWAY_MAX_FRAME_BYTES on XPARO's REST twin is a 413 in XPARO's shape and
    the route never reads it; one at the limit is read."""
    ran.clear()
    async with client() as http:
        over = await http.post("/chatbot_api/s/p/", content=b"x" * (CAP + 1))
        at = await http.post("/chatbot_api/s/p/", content=b"x" * CAP)
    assert over.status_code == 413 and over.json()["error"]["message"]
    assert at.json() == {"read": CAP} and ran == ["rest_twin"]


async def test_routes_own_answers_and_headers_are_kept() -> None:
    """A route's own error body (/ready's 503) is left alone, and a rewritten refusal keeps its
    headers (Retry-After)."""
    async with client() as http:
        ready = await http.get("/ready")
        busy = await http.get("/api/busy")
    assert ready.status_code == 503 and ready.json() == {"status": "not ready"}
    assert busy.status_code == 429 and busy.headers["retry-after"] == "3"
    assert busy.json() == {"error": {"message": "slow down"}}


JSON = {"Content-Type": "application/json"}
DIGITS = b'{"a": ' + b"9" * 5000 + b"}"
