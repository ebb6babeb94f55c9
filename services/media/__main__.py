"""`python -m services.media`: run one media replica."""

from shared.logging import setup_logging
from shared.service import serve
from shared.settings import CommonSettings

from .config import MediaSettings
from .main import create_app

if __name__ == "__main__":
    setup_logging("media", CommonSettings().log_level)
    serve(create_app(), port=MediaSettings().port)
