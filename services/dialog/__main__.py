"""`python -m services.dialog`: run one dialog replica."""

from shared.logging import setup_logging
from shared.service import serve
from shared.settings import CommonSettings

from .config import DialogSettings
from .main import create_app

if __name__ == "__main__":
    setup_logging("dialog", CommonSettings().log_level)
    serve(create_app(), port=DialogSettings().port)
