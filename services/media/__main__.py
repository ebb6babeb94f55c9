"""`python -m services.media`: run one media replica."""

from shared.observability.setup import setup_process
from shared.service import serve

from .config import MediaSettings
from .main import create_app

if __name__ == "__main__":
    setup_process("media")
    serve(create_app(), port=MediaSettings().port)
