"""What a socket costs: permessage-deflate, which browsers always offer, is refused unless the
gateway is configured to accept it (~33 KiB more per socket); WebSockets run on the gateway's
own socket layer, next to the HTTP routes of the same port."""

import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from shared.devstack.embedded import free_port
from tests.support.backends import Backends
from tests.support.plugin import Stack, TestProject
from tests.support.services import Service


@pytest.fixture(scope="module")
def gateways(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A dialog, a gateway with the defaults and one with GATEWAY_WS_PER_MESSAGE_DEFLATE=true."""
    running = Stack(backends, tmp_path_factory.mktemp("socket-logs")).start(dialogs=1)
    env = {
        **running.env,
        "GATEWAY_BESSER_PORT": str(free_port()),
        "GATEWAY_WS_PER_MESSAGE_DEFLATE": "true",
    }
    running.gateways.append(Service("gateway", env, running.log_dir, name="gateway-deflate"))
    running.gateways[-1].start()
    yield running
    running.stop()


async def extensions(url: str) -> str | None:
    """The extensions the server accepted from a browser-like offer (None: none)."""
    async with connect(url, compression="deflate", open_timeout=20) as ws:
        assert ws.response is not None
        return ws.response.headers.get("Sec-WebSocket-Extensions")


async def test_a_browser_offering_deflate_gets_uncompressed_sockets_by_default(
    gateways: Stack, project: TestProject
) -> None:
    """On both WebSocket ports of a default gateway, a client offering permessage-deflate is
    answered without it, and talks as usual."""
    assert await extensions(gateways.ws_url(project)) is None
    assert await extensions(gateways.besser_url(project)) is None
    async with connect(gateways.ws_url(project), compression="deflate", open_timeout=20) as ws:
        await ws.send(json.dumps({"ask_bot": "hello"}))
        frame = json.loads(await ws.recv(decode=True))
        assert "bot_response" in frame["message"]


async def test_deflate_is_accepted_when_the_gateway_is_configured_for_it(
    gateways: Stack, project: TestProject
) -> None:
    """GATEWAY_WS_PER_MESSAGE_DEFLATE=true accepts the offer on both ports."""
    xparo = await extensions(gateways.ws_url(project, replica=1))
    besser = await extensions(gateways.besser_url(project, replica=1))
    assert xparo is not None and xparo.startswith("permessage-deflate")
    assert besser is not None and besser.startswith("permessage-deflate")


async def test_an_upgrade_to_a_path_no_protocol_serves_is_refused_with_403(
    gateways: Stack, project: TestProject
) -> None:
    """A WebSocket handshake to an unknown path (or an HTTP-only route) is answered HTTP 403
    before the handshake completes, on both ports' layers alike; the HTTP routes beside the
    sockets still answer."""
    base = gateways.ws_url(project).split("/chatbot_api/")[0]
    for path in ("/nowhere", "/health", f"/chatbot_api/{project.secret}/{project.key}"):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(base + path, open_timeout=20):
                pass
        assert refused.value.response.status_code == 403, path
    async with httpx.AsyncClient(base_url=gateways.http_url()) as http:
        assert (await http.get("/health")).json() == {"status": "ok"}


async def test_a_refused_handshake_answers_403_before_any_frame(
    gateways: Stack, project: TestProject
) -> None:
    """A wrong secret is answered HTTP 403 with no body before the handshake, on the XPARO and
    the BESSER port, as the platforms refuse (the client never gets a socket)."""
    for url in (
        gateways.ws_url(project).replace(project.secret, "wrong-secret"),
        gateways.besser_url(project).replace(project.secret, "wrong-secret"),
    ):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, compression="deflate", open_timeout=20):
                pass
        assert refused.value.response.status_code == 403, url
        assert refused.value.response.body == b"", url
