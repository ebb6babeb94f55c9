"""NUL characters are refused at the gateway's door (services/gateway/edge/nul_guard.py)."""

from typing import Any

import pytest
from fastapi import Body, FastAPI
from fastapi.testclient import TestClient

from services.gateway.edge.nul_guard import NulGuard, has_nul


def app() -> TestClient:
    api = FastAPI()
    api.add_middleware(NulGuard)

    @api.post("/echo")
    async def echo(body: Any = Body(None), q: str = "") -> dict[str, Any]:  # noqa: B008
        return {"body": body, "q": q}

    return TestClient(api)


@pytest.mark.parametrize(
    "value", ["a\x00b", {"k": ["x", {"deep": "\x00"}]}, {"\x00key": 1}, ["ok", "n\x00"]]
)
def test_nul_anywhere_in_json_is_found(value: Any) -> None:
    assert has_nul(value)


def test_clean_values_pass() -> None:
    assert not has_nul({"text": "\\u0000 is how JSON writes it", "n": 0, "none": None})


def test_nul_in_the_query_or_a_json_body_is_a_422_problem() -> None:
    client = app()
    for response in (
        client.post("/echo?q=a%00b", json={}),
        client.post(
            "/echo", content=b'{"title": "a\\u0000b"}', headers={"content-type": "application/json"}
        ),
    ):
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert "NUL" in response.json()["detail"]


def test_other_requests_reach_the_route_with_their_body_intact() -> None:
    client = app()
    sent = {"text": "caf\u00e9 \\u0000", "list": [1, 2]}
    assert client.post("/echo?q=ok", json=sent).json() == {"body": sent, "q": "ok"}
    broken = client.post(
        "/echo", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422 and "NUL" not in broken.text
