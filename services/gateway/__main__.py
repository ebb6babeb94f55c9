"""`python -m services.gateway`: run one gateway replica."""

from shared.observability.setup import setup_process
from shared.service import serve

from .config import GatewaySettings
from .http_limits import HeadLimits, limited_http
from .main import create_app
from .shapes import Shapes

# uvicorn drops frames above this at once; frames between the limit and this get a clean 1009.
HARD_CAP_FACTOR = 4

if __name__ == "__main__":
    setup_process("gateway")
    settings = GatewaySettings()
    app = create_app(settings=settings)
    serve(
        app,
        port=settings.port,
        http=limited_http(HeadLimits.of(settings), Shapes(settings).refusal),
        before_shutdown=app.state.before_shutdown,
        ws_max_size=settings.max_frame_bytes * HARD_CAP_FACTOR,
        ws="websockets-sansio",
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_timeout_s,
        ws_per_message_deflate=settings.ws_per_message_deflate,  # uvicorn's default: on
    )
