"""`python -m services.telemetry`: run one telemetry replica."""

from shared.logging import setup_logging
from shared.service import serve
from shared.settings import CommonSettings

from .config import TelemetrySettings
from .main import create_app

if __name__ == "__main__":
    setup_logging("telemetry", CommonSettings().log_level)
    serve(create_app(), port=TelemetrySettings().port)
