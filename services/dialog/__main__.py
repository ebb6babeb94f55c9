"""`python -m services.dialog`: run one dialog replica."""

from shared.observability.setup import setup_process
from shared.service import serve

from .config import DialogSettings
from .main import create_app

if __name__ == "__main__":
    setup_process("dialog")
    serve(create_app(), port=DialogSettings().port)
