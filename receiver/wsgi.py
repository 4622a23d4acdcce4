"""The gunicorn target: `receiver.wsgi:app`."""

from receiver import create_app
from shared.config import load_settings
from shared.logging import configure_logging

settings = load_settings()
configure_logging(settings)
app = create_app(settings)
