"""ASGI entry point: the live event feed plus the whole API (``realtime/asgi.py``)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from realtime.asgi import Application  # noqa: E402 - after django.setup()

application = Application()
