"""`python -m services.gateway`: run one gateway replica."""

from shared.logging import setup_logging
from shared.service import serve
from shared.settings import CommonSettings

from .config import GatewaySettings
from .main import create_app

if __name__ == "__main__":
    setup_logging("gateway", CommonSettings().log_level)
    settings = GatewaySettings()
    serve(
        create_app(settings=settings),
        host=settings.host,
        port=settings.port,
        ws_max_size=settings.max_frame_bytes,
        ws="websockets-sansio",
    )
