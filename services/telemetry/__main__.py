"""`python -m services.telemetry`: run one telemetry replica."""

from shared.observability.setup import setup_process
from shared.service import serve

from .config import TelemetrySettings
from .main import create_app

if __name__ == "__main__":
    setup_process("telemetry")
    serve(create_app(), port=TelemetrySettings().port)
