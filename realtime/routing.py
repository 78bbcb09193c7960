"""URL patterns of the plain WebSocket transport (socket.io is mounted in the ASGI app)."""

from django.urls import re_path

from .consumers import RouteConsumer
from .routes import ROUTES

websocket_urlpatterns = [
    re_path(rf"^ws/{name}/?$", RouteConsumer.as_asgi(route_name=name)) for name in ROUTES
]
