"""`python -m services.gateway`: run one gateway replica."""

from shared.observability.setup import setup_process
from shared.service import serve

from .config import GatewaySettings
from .edge.http_limits import HeadLimits, limited_http
from .main import create_app
from .protocols.shapes import Shapes

if __name__ == "__main__":
    setup_process("gateway")
    settings = GatewaySettings()
    app = create_app(settings=settings)
    serve(
        app,
        port=settings.port,
        http=limited_http(HeadLimits.of(settings), Shapes(settings).refusal),
        before_shutdown=app.state.before_shutdown,
        ws=app.state.sockets.protocol,  # WebSockets: the gateway's own layer (wsserver.py)
    )
