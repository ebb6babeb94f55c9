"""`python -m services.schedule`: run one schedule replica."""

from shared.logging import setup_logging
from shared.service import serve
from shared.settings import CommonSettings

from .config import ScheduleSettings
from .main import create_app

if __name__ == "__main__":
    setup_logging("schedule", CommonSettings().log_level)
    serve(create_app(), port=ScheduleSettings().port)
