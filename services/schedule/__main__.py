"""`python -m services.schedule`: run one schedule replica."""

from shared.observability.setup import setup_process
from shared.service import serve

from .config import ScheduleSettings
from .main import create_app

if __name__ == "__main__":
    setup_process("schedule")
    serve(create_app(), port=ScheduleSettings().port)
