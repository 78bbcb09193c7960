"""ASGI entry point: Django HTTP, the plain WebSocket routes and socket.io on one port."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orderlines.settings")
django_asgi_app = get_asgi_application()

from realtime.asgi import realtime_application  # noqa: E402  (needs Django set up first)

application = realtime_application(django_asgi_app)
